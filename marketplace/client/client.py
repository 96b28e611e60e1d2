"""A requester's (and a worker's) Python client for the crowdmarket API.

    from marketplace.client import Client

    client = Client("http://127.0.0.1:8000", api_key="AbCd1234.…")
    job = client.create_job(title="Birds", label_schema={"type": "single_choice", "classes": ["a", "b"]},
                            reward_cents=10, items_per_task=5)
    client.upload(job["id"], "items.csv")
    client.upload(job["id"], "gold.csv", kind="gold")
    client.deposit_shortfall(job["id"])
    client.launch(job["id"])
    client.wait(job["id"], progress=True)
    rows = list(client.results(job["id"]))          # or client.results_frame(job["id"]) with pandas

Every call goes through `OPERATIONS` (marketplace/client/operations.py), which a test holds against the server's
OpenAPI schema. Depends on httpx only (tqdm for a progress bar, pandas for frames: optional); imports nothing of the
server.
"""

import io
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from marketplace.client.operations import AUTH_OPERATIONS, OPERATIONS, Operation
from marketplace.client.transport import ApiError, http_client

FINISHED = frozenset({"completed", "cancelled", "expired"})
FileLike = str | Path | bytes | IO[bytes]


class Client:
    """The API at `base_url` as one user (an API key, or a session token); `http` is any ready `httpx.Client`. With
    `organisation` (an id), every call acts for that organisation (`X-Organisation`), within the user's role there."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        session_token: str | None = None,
        http: httpx.Client | None = None,
        organisation: int | None = None,
    ) -> None:
        self.http = http or http_client(base_url, api_key=api_key, session_token=session_token)
        self.acting = {"X-Organisation": str(organisation)} if organisation is not None else {}

    # --- Plumbing -----------------------------------------------------------------------------------------------

    def call(
        self,
        name: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **params: object,
    ) -> httpx.Response:
        """Call operation `name` of OPERATIONS (or AUTH_OPERATIONS); raises `ApiError` on anything but 2xx."""
        operation = OPERATIONS[name] if name in OPERATIONS else AUTH_OPERATIONS[name]
        _check_fields(name, operation, json_body, data, files, query)
        response = self.http.request(
            operation.method,
            operation.url(**params),
            json=json_body,
            files=files,
            data=data,
            params=query,
            headers={**self.acting, **(headers or {})},
        )
        if response.is_error:
            raise ApiError.of(response)
        return response

    def pages(
        self, name: str, *, query: Mapping[str, Any] | None = None, page_size: int = 500, **params: object
    ) -> Iterator[dict[str, Any]]:
        """Every row of a paginated list, page after page (`query`: its filters; `params`: the path's)."""
        page = self.call(name, query={**(query or {}), "page_size": page_size}, **params).json()
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            response = self.http.get(page["next"], headers=self.acting)
            if response.is_error:
                raise ApiError.of(response)
            page = response.json()

    # --- Accounts (allauth's headless app API) ---------------------------------------------------------------------

    def signup(self, email: str, password: str, **fields: Any) -> dict[str, Any]:
        """Sign up (`fields`: the project's extras, `is_requester` and `is_worker`) and hold the new session token
        for every later call; returns the user (`id`, `email`...)."""
        return self._authenticate("auth.signup", {"email": email, "password": password, **fields})

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Log in and hold the session token for every later call; returns the user."""
        return self._authenticate("auth.login", {"email": email, "password": password})

    @property
    def session_token(self) -> str | None:
        return self.http.headers.get("X-Session-Token")

    def _authenticate(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.call(name, json_body=body).json()
        self.http.headers["X-Session-Token"] = answer["meta"]["session_token"]
        return answer["data"]["user"]

    # --- Jobs ---------------------------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.call("me").json()

    def create_job(self, **fields: Any) -> dict[str, Any]:
        """A draft job (the fields of `POST /api/v1/jobs/`)."""
        return self.call("jobs.create", json_body=fields).json()

    def job(self, job_id: int) -> dict[str, Any]:
        return self.call("jobs.get", job_id=job_id).json()

    def jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.pages("jobs.list", query=filters)

    def upload(self, job_id: int, file: FileLike, *, kind: str = "items", name: str | None = None) -> dict[str, Any]:
        """Send items or gold (`kind="gold"`) from a path, bytes or a binary file: CSV or JSONL (by its name)."""
        content, filename = _content(file, name)
        body = {"kind": kind}
        response = self.call("uploads.create", files={"file": (filename, content)}, data=body, job_id=job_id)
        return response.json()

    def upload_rows(self, job_id: int, rows: Iterable[Mapping[str, Any]], *, kind: str = "items") -> dict[str, Any]:
        """Send rows (dicts, e.g. `DataFrame.to_dict("records")`) as a JSONL upload."""
        text = "".join(json.dumps(dict(row), default=str) + "\n" for row in rows)
        return self.upload(job_id, text.encode(), kind=kind, name=f"{kind}.jsonl")

    def upload_frame(self, job_id: int, frame: Any, *, kind: str = "items") -> dict[str, Any]:
        """Send a pandas DataFrame's rows (one item per row, columns as fields)."""
        return self.upload_rows(job_id, frame.to_dict("records"), kind=kind)

    def upload_media(self, job_id: int, files: Iterable[FileLike]) -> list[dict[str, Any]]:
        """Send media files (or one zip of them) for the items to name in their media fields."""
        parts = [("files", (name, content)) for content, name in (_content(file, None) for file in files)]
        return self.call("media.upload", files=parts, job_id=job_id).json()

    def cost(self, job_id: int) -> dict[str, Any]:
        return self.call("jobs.cost", job_id=job_id).json()

    def deposit(self, amount_cents: int, currency: str = "USD", *, idempotency_key: str | None = None) -> dict:
        """Deposit (sandbox provider in development); a retry with the same key is charged once."""
        key = idempotency_key or uuid.uuid4().hex
        body = {"amount": amount_cents, "currency": currency, "idempotency_key": key}
        return self.call("deposits.create", json_body=body).json()

    def deposit_shortfall(self, job_id: int) -> int:
        """Deposit what launching the job still needs (0: nothing); returns the amount deposited."""
        cost = self.cost(job_id)
        shortfall = int(cost.get("shortfall_cents") or 0)
        if shortfall > 0:
            self.deposit(shortfall, cost.get("currency", "USD"), idempotency_key=f"shortfall-{job_id}-{shortfall}")
        return shortfall

    def balances(self) -> list[dict[str, Any]]:
        """Your balances, one per currency (`available`, `in_escrow`, `payable`...)."""
        return self.call("balances").json()

    def transactions(self) -> Iterator[dict[str, Any]]:
        """Your ledger transactions, with their postings."""
        return self.pages("transactions.list")

    def request_payout(
        self, amount_cents: int | None = None, currency: str | None = None, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Ask for a payout of what you may be paid (all of it without `amount_cents`); a retry with the same key
        pays once."""
        body: dict[str, Any] = {"idempotency_key": idempotency_key or uuid.uuid4().hex}
        if amount_cents is not None:
            body["amount"] = amount_cents
        if currency is not None:
            body["currency"] = currency
        return self.call("payouts.create", json_body=body).json()

    def payout(self, payout_id: int) -> dict[str, Any]:
        return self.call("payouts.get", payout_id=payout_id).json()

    def create_qualification(self, **fields: Any) -> dict[str, Any]:
        """A qualification test with its questions (the fields of `POST /api/v1/qualifications/`), which jobs may
        then require."""
        return self.call("qualifications.create", json_body=fields).json()

    def launch(self, job_id: int) -> dict[str, Any]:
        return self.call("jobs.launch", job_id=job_id).json()

    def cancel(self, job_id: int) -> dict[str, Any]:
        return self.call("jobs.cancel", job_id=job_id).json()

    def progress(self, job_id: int) -> dict[str, Any]:
        return self.call("jobs.progress", job_id=job_id).json()

    def wait(
        self, job_id: int, *, timeout: float = 3600, interval: float = 5.0, progress: bool = False
    ) -> dict[str, Any]:
        """Poll until the job is finished (completed, cancelled or expired), with a progress bar if asked (tqdm)."""
        bar, deadline, done = _bar(progress), time.monotonic() + timeout, 0
        try:
            while True:
                job, state = self.job(job_id), self.progress(job_id)
                total, finished = state.get("tasks_total", 0), state.get("tasks_complete", 0)
                if bar is not None:
                    bar.total = total
                    bar.update(finished - done)
                done = finished
                if job["status"] in FINISHED:
                    return job
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
                time.sleep(interval)
        finally:
            if bar is not None:
                bar.close()

    # --- Results and review ---------------------------------------------------------------------------------------

    def aggregate(self, job_id: int) -> dict[str, Any]:
        """Ask for a fresh aggregation now (results are also refreshed as answers arrive); the API queues it and
        answers 202 with no body (then {}): `aggregation` shows it once done."""
        response = self.call("jobs.aggregate", job_id=job_id)
        return response.json() if response.content else {}

    def aggregation(self, job_id: int) -> dict[str, Any]:
        """The last aggregation's summary (`computed_at`, iterations, workers left out...); 404 before the first."""
        return self.call("jobs.aggregation", job_id=job_id).json()

    def results(self, job_id: int, *, answers: bool = False) -> Iterator[dict[str, Any]]:
        """Every item's result, as the JSONL export streams it (label, confidence, posterior...; with `answers`,
        each item's raw answers too)."""
        query = {"file_format": "jsonl", **({"answers": "true"} if answers else {})}
        response = self.call("results.export", query=query, job_id=job_id)
        for line in response.iter_lines():
            if line.strip():
                yield json.loads(line)

    def results_frame(self, job_id: int) -> Any:
        """The results as a pandas DataFrame (pandas must be installed)."""
        import pandas  # noqa: PLC0415 -- optional

        return pandas.DataFrame(list(self.results(job_id)))

    def result_list(self, job_id: int) -> Iterator[dict[str, Any]]:
        """Every item's result as the paginated list serves it (`id`, `external_id`, `label`, `confidence`...)."""
        return self.pages("results.list", job_id=job_id)

    def items(self, job_id: int, **filters: Any) -> Iterator[dict[str, Any]]:
        """The job's items (filters: `is_gold`), each with the task it is in."""
        return self.pages("items.list", query=filters, job_id=job_id)

    def job_workers(self, job_id: int) -> Iterator[dict[str, Any]]:
        """Who worked on the job: each worker's estimated accuracy, gold record, whether blocked."""
        return self.pages("jobs.workers", job_id=job_id)

    def agreement(self, job_id: int) -> dict[str, Any]:
        """Inter-annotator agreement on the job (Krippendorff's alpha, Fleiss' kappa, with intervals)."""
        return self.call("jobs.agreement", job_id=job_id).json()

    def assignments(self, job_id: int, **filters: Any) -> Iterator[dict[str, Any]]:
        """The job's assignments (filters: `status`, `review_status`)."""
        return self.pages("assignments.list", query=filters, job_id=job_id)

    def export_csv(self, job_id: int) -> str:
        return self.call("results.export", query={"file_format": "csv"}, job_id=job_id).text

    def submissions(self, job_id: int, review_status: str = "pending") -> Iterator[dict[str, Any]]:
        return self.pages("assignments.list", query={"review_status": review_status}, job_id=job_id)

    def review(
        self, job_id: int, *, approve: Iterable[int] = (), reject: Mapping[int, str] | None = None
    ) -> dict[str, Any]:
        """Approve assignments by id, and reject others, each with its reason (`{id: reason}`)."""
        rejected = [{"id": pk, "reason": reason} for pk, reason in (reject or {}).items()]
        return self.call("review", json_body={"approve": list(approve), "reject": rejected}, job_id=job_id).json()

    # --- Work (a worker's client) -----------------------------------------------------------------------------------

    def claim(self, job_id: int) -> dict[str, Any]:
        return self.call("work.claim", job_id=job_id).json()

    def submit(self, assignment_id: int, answers: Iterable[Any] | Mapping[int, Any]) -> dict[str, Any]:
        """Answer every item of an assignment, in the order of its positions (or as `{position: answer}`)."""
        body = {"answers": _positioned(answers)}
        return self.call("work.submit", json_body=body, assignment_id=assignment_id).json()

    def assignment(self, assignment_id: int) -> dict[str, Any]:
        """One of your assignments: its status, deadline and items."""
        return self.call("work.assignment", assignment_id=assignment_id).json()

    def appeal(self, assignment_id: int, message: str) -> dict[str, Any]:
        """Appeal the rejection of one of your assignments; returns the dispute (resolved at once, or pending)."""
        body = {"message": message}
        return self.call("work.appeal", json_body=body, assignment_id=assignment_id).json()

    def my_disputes(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Your disputes (filters: `kind`, e.g. "appeal"; `status`)."""
        return self.pages("work.disputes", query=filters)

    def start_test(self, qualification_id: int) -> dict[str, Any]:
        """Start a qualification test: the attempt, with its questions (each a `position` and a `payload`)."""
        return self.call("work.tests.start", qualification_id=qualification_id).json()

    def submit_test(self, attempt_id: int, answers: Iterable[Any] | Mapping[int, Any]) -> dict[str, Any]:
        """Answer a test's questions (in position order, or as `{position: answer}`); returns the grade (`score`,
        `passed`)."""
        body = {"answers": _positioned(answers)}
        return self.call("work.tests.submit", json_body=body, attempt_id=attempt_id).json()

    # --- Staff ----------------------------------------------------------------------------------------------------

    def dispute(self, dispute_id: int) -> dict[str, Any]:
        """A dispute as staff see it (why it waits for them: `pending_reason`)."""
        return self.call("admin.disputes.get", dispute_id=dispute_id).json()

    def resolve_dispute(self, dispute_id: int, decision: str, note: str) -> dict[str, Any]:
        """Decide a dispute (`decision`: "uphold" or "overturn"), with a note the worker sees."""
        body = {"decision": decision, "note": note}
        return self.call("admin.disputes.resolve", json_body=body, dispute_id=dispute_id).json()


def _positioned(answers: Iterable[Any] | Mapping[int, Any]) -> list[dict[str, Any]]:
    pairs = answers.items() if isinstance(answers, Mapping) else enumerate(answers)
    return [{"position": position, "answer": answer} for position, answer in pairs]


def _check_fields(name: str, op: Operation, json_body: Any, data: Any, files: Any, query: Any) -> None:
    """Refuse, before sending, a field the operation does not list: the table is what the schema test checks."""
    sent = (
        set(json_body or ())
        | set(data or ())
        | ({k for k, _ in files} if isinstance(files, list) else set(files or ()))
    )
    unknown = sent - set(op.body)
    unknown_query = set(query or ()) - set(op.query)
    if unknown or unknown_query:
        raise TypeError(f"{name} takes no {sorted(unknown | unknown_query)} (known: {op.body + op.query})")


def _content(file: FileLike, name: str | None) -> tuple[bytes, str]:
    if isinstance(file, bytes):
        return file, name or "upload.csv"
    if isinstance(file, str | Path):
        path = Path(file)
        return path.read_bytes(), name or path.name
    if isinstance(file, io.IOBase) or hasattr(file, "read"):
        return file.read(), name or Path(getattr(file, "name", "upload.csv")).name
    raise TypeError(f"not a file: {type(file).__name__}")


def _bar(wanted: bool) -> Any:
    if not wanted:
        return None
    from tqdm import tqdm  # noqa: PLC0415 -- optional

    return tqdm(unit="task", desc="tasks done")
