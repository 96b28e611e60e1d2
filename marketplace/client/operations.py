"""Every API operation the client calls: method, path template and the body fields it may send. One table, so that a
test can hold it against the server's OpenAPI schema (tests/client/test_client.py) and the client cannot
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
    "prelabel_model",
    "claim_order",
    "continuous",
    "worker_model",
)

QUALIFICATION_FIELDS = (
    "name",
    "description",
    "label_schema",
    "pass_mark",
    "questions_per_attempt",
    "time_limit_seconds",
    "max_attempts",
    "retake_cooldown_seconds",
    "valid_for_seconds",
    "is_public",
    "questions",
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
    "results.export": Operation("GET", "/api/v1/jobs/{job_id}/results/export/", query=("file_format", "answers")),
    "assignments.list": Operation(
        "GET", "/api/v1/jobs/{job_id}/assignments/", query=("review_status", "status", "page_size")
    ),
    "items.list": Operation("GET", "/api/v1/jobs/{job_id}/items/", query=("is_gold", "page_size")),
    "jobs.workers": Operation("GET", "/api/v1/jobs/{job_id}/workers/", query=("page_size",)),
    "jobs.agreement": Operation("GET", "/api/v1/jobs/{job_id}/agreement/"),
    "review": Operation("POST", "/api/v1/jobs/{job_id}/review/", body=("approve", "reject")),
    "deposits.create": Operation("POST", "/api/v1/payments/deposits/", body=("amount", "currency", "idempotency_key")),
    "balances": Operation("GET", "/api/v1/payments/balances/"),
    "predictions.create": Operation("POST", "/api/v1/jobs/{job_id}/predictions/", body=("predictions",)),
    "predictions.list": Operation("GET", "/api/v1/jobs/{job_id}/predictions/", query=("model", "page_size")),
    "jobs.models": Operation("GET", "/api/v1/jobs/{job_id}/models/"),
    "model_endpoints.create": Operation("POST", "/api/v1/jobs/{job_id}/model-endpoints/", body=("model", "url")),
    "organisations.list": Operation("GET", "/api/v1/organisations/", query=("page_size",)),
    "organisations.create": Operation("POST", "/api/v1/organisations/", body=("name",)),
    "organisations.members": Operation("GET", "/api/v1/organisations/{organisation_id}/members/"),
    "organisations.add_member": Operation(
        "POST", "/api/v1/organisations/{organisation_id}/members/", body=("email", "role")
    ),
    "transactions.list": Operation("GET", "/api/v1/payments/transactions/", query=("page_size",)),
    "payouts.create": Operation("POST", "/api/v1/payments/payouts/", body=("amount", "currency", "idempotency_key")),
    "payouts.get": Operation("GET", "/api/v1/payments/payouts/{payout_id}/"),
    "qualifications.create": Operation("POST", "/api/v1/qualifications/", body=QUALIFICATION_FIELDS),
    "work.jobs": Operation("GET", "/api/v1/work/jobs/"),
    "work.claim": Operation("POST", "/api/v1/work/jobs/{job_id}/claim/"),
    "work.submit": Operation("POST", "/api/v1/work/assignments/{assignment_id}/submit/", body=("answers",)),
    "work.release": Operation("POST", "/api/v1/work/assignments/{assignment_id}/release/"),
    "work.assignment": Operation("GET", "/api/v1/work/assignments/{assignment_id}/"),
    "work.appeal": Operation("POST", "/api/v1/work/assignments/{assignment_id}/appeal/", body=("message",)),
    "work.disputes": Operation("GET", "/api/v1/work/disputes/", query=("kind", "status", "page_size")),
    "work.tests.start": Operation("POST", "/api/v1/work/qualifications/{qualification_id}/attempts/"),
    "work.tests.submit": Operation("POST", "/api/v1/work/attempts/{attempt_id}/submit/", body=("answers",)),
    "admin.disputes.get": Operation("GET", "/api/v1/admin/disputes/{dispute_id}/"),
    "admin.disputes.resolve": Operation(
        "POST", "/api/v1/admin/disputes/{dispute_id}/resolve/", body=("decision", "note")
    ),
}

# Sign-up and login are allauth's headless app API, outside the API's schema: a test holds these against allauth's
# own OpenAPI specification, and the project's extra sign-up fields against its sign-up form.
AUTH_OPERATIONS: dict[str, Operation] = {
    "auth.signup": Operation(
        "POST", "/_allauth/app/v1/auth/signup", body=("email", "password", "is_requester", "is_worker")
    ),
    "auth.login": Operation("POST", "/_allauth/app/v1/auth/login", body=("email", "password")),
}
