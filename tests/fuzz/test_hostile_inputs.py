"""The hostile corpus (`tests/hostile.py`) sent to every operation of the served schema: into every field of a body
that would otherwise be accepted (each leaf, and each top-level member), as the whole body, into every query
parameter, and into uploads. No answer may be a 5xx, and every 4xx carries the error shape.

`make test` gives each slot one value of the corpus (rotating, so every value is sent, to about one slot in 25);
`make fuzz` (FUZZ_EXAMPLES set) sends every value to every slot, and the form-encoded bodies too.
"""

import itertools
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from marketplace.models import Dispute, Item
from marketplace.services.disputes import complaint_file
from tests.fuzz.conftest import World, openapi_document, seed_world
from tests.hostile import JSON_VALUES, STRINGS, ten_megabytes

pytestmark = pytest.mark.django_db
FULL = "FUZZ_EXAMPLES" in os.environ
PLACEHOLDER = "\x01hostile\x01"
SCHEMA = {"type": "single_choice", "classes": ["cat", "dog", "bird"]}
QUESTION = {"payload": {"image_url": "https://example.com/q.jpg"}, "answer": "cat"}
HOOK = {"url": "https://example.com/hooks", "events": [], "description": "mine", "is_active": True}
ANSWERS = {"answers": [{"position": 0, "answer": "cat"}]}

# Bodies the operations accept, so a hostile value in one field reaches the service and the database, not only the
# serializer's "this field is required". Operations not listed get `{member: value}` for each documented member.
BODIES: dict[str, dict[str, Any]] = {
    "post /api/v1/jobs/": {"title": "Cats", "instructions": "Pick one", "label_schema": SCHEMA, "reward_cents": 5},
    "patch /api/v1/jobs/{job_id}/": {
        "title": "Cats",
        "instructions": "Pick",
        "label_schema": SCHEMA,
        "item_schema": {},
    },
    "post /api/v1/jobs/{job_id}/bonuses/": {"worker": 0, "amount_cents": 1, "reason": "thanks", "idempotency_key": "b"},
    "post /api/v1/jobs/{job_id}/complaints/": {"worker": 0, "message": "spam"},
    "post /api/v1/jobs/{job_id}/items/{item_id}/gold-review/": {"gold_answer": "cat"},
    "post /api/v1/jobs/{job_id}/review/": {"approve": [], "reject": []},
    "post /api/v1/jobs/{job_id}/webhooks/": HOOK,
    "post /api/v1/webhooks/": HOOK,
    "patch /api/v1/webhooks/{webhook_id}/": HOOK,
    "post /api/v1/payments/deposits/": {"currency": "USD", "idempotency_key": "d", "amount": 100},
    "post /api/v1/payments/payouts/": {"currency": "USD", "idempotency_key": "p", "amount": 1},
    "post /api/v1/qualifications/": {
        "name": "Q",
        "description": "d",
        "label_schema": SCHEMA,
        "questions": [QUESTION],
        "questions_per_attempt": 1,
    },
    "patch /api/v1/qualifications/{qualification_id}/": {"description": "d"},
    "post /api/v1/qualifications/{qualification_id}/grants/": {"worker": 0, "score": 0.9, "reason": "r"},
    "post /api/v1/qualifications/{qualification_id}/grants/{grant_id}/revoke/": {"reason": "r"},
    "post /api/v1/qualifications/{qualification_id}/questions/": {"questions": [QUESTION]},
    "post /api/v1/work/assignments/{assignment_id}/appeal/": {"message": "unfair"},
    "post /api/v1/work/assignments/{assignment_id}/submit/": ANSWERS,
    "post /api/v1/work/assignments/{assignment_id}/submit-and-claim/": ANSWERS,
    "post /api/v1/work/attempts/{attempt_id}/submit/": ANSWERS,
    "post /api/v1/admin/disputes/{dispute_id}/resolve/": {"decision": "dismiss", "note": "n"},
    "post /api/v1/admin/workers/{user_id}/ban/": {"reason": "spam"},
    "post /api/v1/admin/workers/{user_id}/unban/": {"reason": "ok"},
}


def corpus() -> dict[str, str]:
    """Every hostile value as JSON text (strings escaped, so a lone surrogate travels as `\\ud800`)."""
    texts = {name: json.dumps(value) for name, value in STRINGS.items()}
    texts["ten-megabytes"] = json.dumps(ten_megabytes())
    return {**texts, **JSON_VALUES}


def query_corpus() -> dict[str, str]:
    """Every hostile value as a URL-encoded query value (a surrogate as the bytes UTF-8 would give it)."""
    values = {name: value for name, value in STRINGS.items() if name != "over-a-million-chars"}
    encoded = {name: quote(value.encode("utf-8", "surrogatepass"), safe="") for name, value in values.items()}
    encoded |= {"nan": "NaN", "overflow": "1e400", "5000-digits": "9" * 5000, "deep": "[" * 2000 + "]" * 2000}
    encoded |= {"invalid-utf8": "%FF%FE", "long": "x" * 100_000}
    return encoded


def role_for(path: str) -> str:
    if path.startswith("/api/v1/work/"):
        return "worker"
    return "staff" if path.startswith("/api/v1/admin/") else "requester"


def ids(world: World) -> dict[str, int]:
    """A real row for each path parameter: the draft job (its fields may still change), a gold item (gold review)."""
    known = {name: values[0] for name, values in world.ids().items() if values}
    gold = Item.objects.filter(job=world.job, is_gold=True).values_list("id", flat=True).first()
    dispute = Dispute.objects.values_list("id", flat=True).first()
    return known | {
        "job_id": world.draft_job.pk,
        "item_id": gold,
        "user_id": world.other_worker.pk,
        "dispute_id": dispute,
    }


def clients(world: World) -> dict[str, Client]:
    return {
        role: Client(HTTP_X_SESSION_TOKEN=token, raise_request_exception=False) for role, token in world.tokens.items()
    }


def url(path: str, known: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(known.get(m.group(1)) or 999_999), path)


def operations(with_body: bool) -> list[tuple[str, str, dict]]:
    found = []
    for path, item in openapi_document()["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete") and ("requestBody" in op) == with_body:
                found.append((method, path, op))
    return sorted(found, key=lambda found: (found[1], found[0]))


def members(op: dict) -> list[str]:
    schemas = openapi_document()["components"]["schemas"]
    ref = op["requestBody"]["content"].get("application/json", {}).get("schema", {}).get("$ref", "")
    return list(schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))


def slots(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every place a hostile value can go in `value`: each leaf, and each member of an object."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            if isinstance(item, dict | list):
                yield from slots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from slots(item, (*path, index)) if isinstance(item, dict | list) else [(*path, index)]


def with_hostile(body: Any, slot: tuple, text: str) -> str:
    """`body` as JSON text with the raw JSON `text` at `slot`."""
    body = json.loads(json.dumps(body))
    target = body
    for part in slot[:-1]:
        target = target[part]
    target[slot[-1]] = PLACEHOLDER
    return json.dumps(body).replace(json.dumps(PLACEHOLDER), text)


def values_for(texts: dict[str, str], turn: Iterator[int]) -> list[tuple[str, str]]:
    """All of them in the full run; one, in turn, otherwise."""
    items = list(texts.items())
    return items if FULL else [items[next(turn) % len(items)]]


def problem(response: HttpResponse) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}: {response.content[:300]!r}"
    if response.status_code >= 400:
        body = response.json() if response["Content-Type"] == "application/json" else None
        if not isinstance(body, dict) or set(body) != {"code", "message", "extra", "request_id"}:
            return f"{response.status_code} without the error shape: {response.content[:300]!r}"
    return None


@pytest.fixture(scope="session")
def schema(django_db_setup, django_db_blocker) -> dict[str, Any]:
    """Served before any test transaction opens: a request through the WSGI app outside Django's test client
    closes the test's database connection when it finishes. Whichever test file ran first, the request may reach
    the database (its middleware does)."""
    with django_db_blocker.unblock():
        return openapi_document()


@pytest.fixture
def world(schema, no_webhook_traffic) -> World:
    world = seed_world()
    complaint_file(job=world.job, worker_id=world.worker.pk, message="seeded", by=world.requester)
    return world


def test_no_hostile_value_in_any_body_field_is_a_server_error(world):
    known, texts, turn, failures, sent = ids(world), corpus(), itertools.count(), [], 0
    by_role = clients(world)
    for method, path, op in operations(with_body=True):
        base = BODIES.get(f"{method} {path}")
        base = (
            json.loads(json.dumps(base).replace('"worker": 0', f'"worker": {world.other_worker.pk}')) if base else None
        )
        places = list(slots(base)) if base else [(member,) for member in members(op)]
        requests = [(("body",), text) for _, text in values_for(JSON_VALUES, turn)]
        requests += [(slot, text) for slot in places for _, text in values_for(texts, turn)]
        client, target = by_role[role_for(path)], url(path, known)
        for slot, text in requests:
            data = text if slot == ("body",) else with_hostile(base or {}, slot, text)
            response = getattr(client, method)(target, data, content_type="application/json")
            sent += 1
            if (found := problem(response)) is not None:
                failures.append(f"{method.upper()} {path} {'.'.join(map(str, slot))} <- {text[:40]}: {found}")

    if FULL:  # and as form fields: nested members go as JSON text, as a form sends them
        failures += form_failures(world, by_role, known)
    assert not failures, "\n".join(failures)
    assert sent > 100


def form_failures(world: World, by_role: dict[str, Client], known: dict[str, int]) -> list[str]:
    failures = []
    texts = {name: value for name, value in STRINGS.items() if name != "lone-surrogate"}  # not encodable in a form
    for method, path, op in operations(with_body=True):
        base = BODIES.get(f"{method} {path}") or dict.fromkeys(members(op), "x")
        form = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in base.items()}
        form = {k: world.other_worker.pk if k == "worker" else v for k, v in form.items()}
        client, target = by_role[role_for(path)], url(path, known)
        for member, value in itertools.product(form, texts.values()):
            body = {**form, member: value}
            if method == "post":
                response = client.post(target, body)
            else:
                response = getattr(client, method)(target, encode_multipart(BOUNDARY, body), MULTIPART_CONTENT)
            if (found := problem(response)) is not None:
                failures.append(f"{method.upper()} {path} form {member} <- {value[:40]!r}: {found}")
    return failures


def test_no_hostile_value_in_any_query_parameter_is_a_server_error(world):
    known, texts, turn, failures, sent = ids(world), query_corpus(), itertools.count(), [], 0
    by_role = clients(world)
    for method, path, op in operations(with_body=False):
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        client, target = by_role[role_for(path)], url(path, known)
        for name in names:
            for _, text in values_for(texts, turn):
                response = getattr(client, method)(f"{target}?{name}={text}")
                sent += 1
                if (found := problem(response)) is not None:
                    failures.append(f"{method.upper()} {path}?{name}={text[:40]}: {found}")

    assert not failures, "\n".join(failures)
    assert sent > 100


def test_no_hostile_file_or_file_name_is_a_server_error(world, settings):
    client = clients(world)["requester"]
    target, failures = f"/api/v1/jobs/{world.draft_job.pk}/uploads/", []
    settings.INGEST_SYNC_MAX_BYTES = 10**9  # in the request, so that the answer is the file's verdict
    files = {f"jsonl {name}": (f'{{"image_url": {text}}}\n', "a.jsonl") for name, text in corpus().items()}
    files |= {f"csv {name}": (f"image_url\n{value}\n", "a.csv") for name, value in STRINGS.items()}
    files |= {
        f"name {name}": ("image_url\nhttps://example.com/a.jpg\n", f"{value[:200]}.csv")
        for name, value in STRINGS.items()
        if name != "lone-surrogate"  # a header is bytes: the client cannot encode it, and Django decodes what comes
    }
    for label, (content, name) in files.items():
        upload = SimpleUploadedFile(name, content.encode("utf-8", "surrogatepass"))
        response = client.post(target, {"file": upload, "kind": "items"})
        if (found := problem(response)) is not None:
            failures.append(f"{label}: {found}")

    assert not failures, "\n".join(failures)
