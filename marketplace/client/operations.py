"""Every API operation the client calls: method, path template and the body fields it may send. One table, so that a
test can hold it against the server's OpenAPI schema (tests/client/test_schema_contract.py) and the client cannot
drift from the API unnoticed."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI template: "/api/v1/jobs/{job_id}/launch/"
    body: tuple[str, ...] = ()  # fields of a JSON or multipart body
    query: tuple[str, ...] = ()  # query parameters

    def url(self, **params: object) -> str:
        return self.path.format(**params)


JOB_FIELDS = (
    "title",
    "instructions",
    "label_schema",
    "item_schema",
    "overlap_min",
    "overlap_max",
    "items_per_task",
    "reward_cents",
    "currency",
    "gold_ratio",
    "assignment_duration_seconds",
    "max_open_assignments",
    "daily_cap",
    "deadline",
    "language",
    "confidence_target",
    "min_reputation",
    "min_gold",
    "gold_block_threshold",
    "min_seconds_per_item",
    "fast_answer_action",
    "required_qualifications",
)

OPERATIONS: dict[str, Operation] = {
    "me": Operation("GET", "/api/v1/me/"),
    "jobs.list": Operation("GET", "/api/v1/jobs/", query=("status", "page_size")),
    "jobs.create": Operation("POST", "/api/v1/jobs/", body=JOB_FIELDS),
    "jobs.get": Operation("GET", "/api/v1/jobs/{job_id}/"),
    "jobs.update": Operation("PATCH", "/api/v1/jobs/{job_id}/", body=JOB_FIELDS),
    "jobs.launch": Operation("POST", "/api/v1/jobs/{job_id}/launch/"),
    "jobs.pause": Operation("POST", "/api/v1/jobs/{job_id}/pause/"),
    "jobs.resume": Operation("POST", "/api/v1/jobs/{job_id}/resume/"),
    "jobs.cancel": Operation("POST", "/api/v1/jobs/{job_id}/cancel/"),
    "jobs.cost": Operation("GET", "/api/v1/jobs/{job_id}/cost/"),
    "jobs.progress": Operation("GET", "/api/v1/jobs/{job_id}/progress/"),
    "jobs.aggregate": Operation("POST", "/api/v1/jobs/{job_id}/aggregation/"),
    "jobs.aggregation": Operation("GET", "/api/v1/jobs/{job_id}/aggregation/"),
    "uploads.create": Operation("POST", "/api/v1/jobs/{job_id}/uploads/", body=("file", "kind", "format")),
    "uploads.get": Operation("GET", "/api/v1/uploads/{upload_id}/"),
    "media.upload": Operation("POST", "/api/v1/jobs/{job_id}/media/", body=("files",)),
    "results.list": Operation("GET", "/api/v1/jobs/{job_id}/results/", query=("page_size",)),
    "results.export": Operation("GET", "/api/v1/jobs/{job_id}/results/export/", query=("file_format",)),
    "assignments.list": Operation("GET", "/api/v1/jobs/{job_id}/assignments/", query=("review_status", "page_size")),
    "review": Operation("POST", "/api/v1/jobs/{job_id}/review/", body=("approve", "reject")),
    "deposits.create": Operation("POST", "/api/v1/payments/deposits/", body=("amount", "currency", "idempotency_key")),
    "balances": Operation("GET", "/api/v1/payments/balances/"),
    "work.jobs": Operation("GET", "/api/v1/work/jobs/"),
    "work.claim": Operation("POST", "/api/v1/work/jobs/{job_id}/claim/"),
    "work.submit": Operation("POST", "/api/v1/work/assignments/{assignment_id}/submit/", body=("answers",)),
    "work.release": Operation("POST", "/api/v1/work/assignments/{assignment_id}/release/"),
}
