"""The Python client (marketplace/client): its table of operations agrees with the served OpenAPI schema (and its
sign-up and login with allauth's); a requester's script runs a whole job with it against a live server; a worker signs
up and logs in with it; it can wait out rate limits; the command line prints JSON and says errors in one line; it
imports nothing of the server."""

import json
import subprocess
import sys
from pathlib import Path

import allauth.headless
import httpx
import pytest
import yaml

from marketplace.accounts.forms import SignupRolesForm
from marketplace.accounts.models import User
from marketplace.accounts.services import api_key_create
from marketplace.client import ApiError, Client, http_client
from marketplace.client.cli import main
from marketplace.client.operations import AUTH_OPERATIONS, OPERATIONS
from marketplace.client.transport import PacedTransport
from marketplace.models import Job
from tests.client.conftest import DjangoTestTransport, in_process
from tests.factories import PASSWORD, WorkerFactory
from tests.fuzz.conftest import LOGIN, openapi_document


def test_every_operation_the_client_calls_is_in_the_schema_with_the_fields_it_sends(db):
    paths = openapi_document()["paths"]
    schemas = openapi_document()["components"]["schemas"]
    for name, op in OPERATIONS.items():
        assert op.path in paths, name
        served = paths[op.path].get(op.method.lower())
        assert served is not None, (name, op.method)
        accepted = set()
        for content in served.get("requestBody", {}).get("content", {}).values():
            ref = content["schema"].get("$ref", "")
            accepted |= set(schemas[ref.rsplit("/", 1)[-1]].get("properties", {})) if ref else set()
        assert set(op.body) <= accepted, (name, sorted(set(op.body) - accepted))
        parameters = {p["name"] for p in served.get("parameters", []) if p["in"] == "query"}
        assert set(op.query) <= parameters, (name, sorted(set(op.query) - parameters))


def test_the_client_refuses_a_field_its_table_does_not_list_before_sending():
    client = Client(http=http_client("http://testserver", wsgi_app=lambda *a: None))

    with pytest.raises(TypeError, match="jobs.create takes no \\['colour'\\]"):
        client.create_job(title="x", colour="red")


def _session_token(live_url: str, email: str) -> str:
    with http_client(live_url) as http:
        response = http.post(LOGIN, json={"email": email, "password": PASSWORD})
    return response.json()["meta"]["session_token"]


@pytest.mark.django_db(transaction=True)
def test_a_requester_script_runs_a_job_end_to_end_against_a_live_server(live_server, requester, settings):
    settings.ALLOWED_HOSTS = ["*"]
    key = api_key_create(user=requester, name="pipeline", scopes=["jobs", "money"])[1]
    client = Client(live_server.url, api_key=key)
    schema = {"type": "single_choice", "classes": ["cat", "dog"]}
    job = client.create_job(
        title="Cats or dogs", label_schema=schema, reward_cents=10, items_per_task=2, overlap_min=2, overlap_max=2
    )
    client.upload_rows(job["id"], [{"image_url": f"https://example.com/{i}.jpg"} for i in range(4)])
    client.upload_rows(
        job["id"], [{"image_url": f"https://example.com/g{i}.jpg", "gold_label": "cat"} for i in range(6)], kind="gold"
    )
    deposited = client.deposit_shortfall(job["id"])
    assert deposited == client.cost(job["id"])["total_cents"]
    assert client.launch(job["id"])["status"] == "active"

    for worker in (WorkerFactory(), WorkerFactory()):
        crowd = Client(live_server.url, session_token=_session_token(live_server.url, worker.email))
        while True:
            try:
                assignment = crowd.claim(job["id"])
            except ApiError as refused:
                assert refused.code in ("no_work_available", "not_eligible"), refused  # done, or the job is
                break
            crowd.submit(assignment["id"], ["cat"] * len(assignment["items"]))

    finished = client.wait(job["id"], interval=0.2, timeout=30)
    pending = [a["id"] for a in client.submissions(job["id"])]
    client.review(job["id"], approve=pending)
    results = list(client.results(job["id"]))

    assert finished["status"] == "completed"
    assert len(pending) == 4 and not list(client.submissions(job["id"]))
    assert len(results) == 4 and {row["label"] for row in results} == {"cat"}
    with pytest.raises(ApiError) as refused:
        client.upload_rows(job["id"], [{"image_url": "not a url"}])
    assert refused.value.status in (400, 409)


def in_process_client(user) -> Client:
    return in_process(api_key_create(user=user, name="cli", scopes=["jobs"])[1])


def test_the_command_line_creates_a_job_and_prints_it_as_json(db, requester, capsys):
    schema = json.dumps({"type": "single_choice", "classes": ["a", "b"]})

    status = main(
        ["jobs", "create", "--title", "From the shell", "--schema", schema, "--reward-cents", "5"],
        client=in_process_client(requester),
    )

    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert Job.objects.get(pk=printed["id"]).title == "From the shell"


def test_the_command_line_says_an_api_error_in_one_line_and_exits_1(db, requester, capsys):
    status = main(["jobs", "get", "999999"], client=in_process_client(requester))

    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and "404 not_found" in err


def test_the_client_imports_nothing_of_the_server():
    server = "('django', 'rest_framework', 'celery', 'numpy')"
    code = f"import sys, marketplace.client; print(sorted(m for m in sys.modules if m.split('.')[0] in {server}))"

    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"


def _properties(spec: dict, schema: dict) -> set[str]:
    """Every property a schema of allauth's specification names, through its $refs, allOf and anyOf."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        components = spec["components"]
        return _properties(spec, components["schemas"].get(name) or components["requestBodies"][name])
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", []) + schema.get("anyOf", []):
        found |= _properties(spec, part)
    for content in schema.get("content", {}).values():
        found |= _properties(spec, content["schema"])
    return found


def test_sign_up_and_login_are_allauths_headless_operations_with_the_projects_sign_up_fields():
    spec = yaml.safe_load((Path(allauth.headless.__file__).parent / "spec/doc/openapi.yaml").read_text())
    extras = set(SignupRolesForm.base_fields)
    for name, op in AUTH_OPERATIONS.items():
        template = op.path.replace("/_allauth/app/", "/_allauth/{client}/")
        served = spec["paths"][template][op.method.lower()]
        accepted = _properties(spec, served["requestBody"])
        assert set(op.body) <= accepted | extras, (name, sorted(set(op.body) - accepted - extras))


def _in_process_anonymous() -> Client:
    return Client(http=httpx.Client(base_url="http://testserver", transport=DjangoTestTransport()))


def test_a_worker_signs_up_and_logs_in_with_the_client_which_then_holds_the_session_token(db):
    signed_up = _in_process_anonymous()
    user = signed_up.signup("new-worker@example.com", PASSWORD, is_worker=True)
    again = _in_process_anonymous()
    again.login("new-worker@example.com", PASSWORD)

    assert User.objects.get(pk=user["id"]).is_worker
    assert signed_up.session_token and again.session_token and signed_up.session_token != again.session_token
    assert again.me()["email"] == "new-worker@example.com"
    with pytest.raises(ApiError) as refused:
        _in_process_anonymous().login("new-worker@example.com", "not the password")
    assert refused.value.status == 400


def _throttled_twice(bodies: list[bytes]) -> httpx.MockTransport:
    throttled = {"code": "throttled", "message": "Slow down.", "extra": {}}
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "0.01"}, json=throttled),  # DRF's throttles say it here
            httpx.Response(429, json={**throttled, "extra": {"wait": 0.01}}),  # or the error's extra
            httpx.Response(201, json={"id": 1}),
        ]
    )

    def server(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        return next(answers)

    return httpx.MockTransport(server)


def test_with_max_wait_a_rate_limited_request_is_sent_again_once_the_server_says_it_may_be():
    bodies: list[bytes] = []
    paced = PacedTransport(_throttled_twice(bodies), max_wait=1.0)
    client = Client(http=httpx.Client(base_url="http://testserver", transport=paced))

    assert client.deposit(500, idempotency_key="once") == {"id": 1}
    assert len(bodies) == 3 and len(set(bodies)) == 1


def test_without_max_wait_a_rate_limited_request_is_an_api_error():
    client = Client(http=httpx.Client(base_url="http://testserver", transport=_throttled_twice([])))

    with pytest.raises(ApiError) as refused:
        client.deposit(500, idempotency_key="once")
    assert (refused.value.status, refused.value.code) == (429, "throttled")


def test_media_files_are_sent_under_their_own_names_and_a_queued_aggregation_answers_an_empty_dict():
    sent: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        request.read()
        return httpx.Response(202) if request.url.path.endswith("/aggregation/") else httpx.Response(201, json=[])

    client = Client(http=httpx.Client(base_url="http://testserver", transport=httpx.MockTransport(server)))
    client.upload_media(7, [Path(__file__)])

    assert b'filename="test_client.py"' in sent[0].content
    assert client.aggregate(7) == {}


def test_a_client_for_an_organisation_acts_for_it_within_the_members_role(db):
    owner = _in_process_anonymous()
    owner.signup("owner@example.com", PASSWORD, is_requester=True)
    team = owner.call("organisations.create", json_body={"name": "Acme"}).json()
    viewer = _in_process_anonymous()
    viewer.signup("viewer@example.com", PASSWORD)
    owner.call(
        "organisations.add_member",
        organisation_id=team["id"],
        json_body={"email": "viewer@example.com", "role": "viewer"},
    )
    job = {"title": "t", "label_schema": {"type": "single_choice", "classes": ["a", "b"]}, "reward_cents": 5}

    as_team = Client(http=owner.http, organisation=team["id"])
    created = as_team.create_job(**job, continuous=True, claim_order="uncertain")
    as_viewer = Client(http=viewer.http, organisation=team["id"])

    assert created["continuous"] is True and created["claim_order"] == "uncertain"
    assert [j["id"] for j in as_viewer.jobs()] == [created["id"]]
    assert list(owner.jobs()) == []  # the owner's personal account holds none of the team's jobs
    with pytest.raises(ApiError) as refused:
        as_viewer.create_job(**job)
    assert (refused.value.status, refused.value.code) == (403, "organisation_role")
