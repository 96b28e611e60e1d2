"""Errors of the workers app: each has a stable `code` and the HTTP status the API answers with."""

from typing import Any


class WorkersError(Exception):
    code = "workers_error"
    status_code = 400
    default_message = "The request could not be carried out."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)


class AlreadyBanned(WorkersError):
    code = "already_banned"
    status_code = 409
    default_message = "This worker is already banned."


class NotBanned(WorkersError):
    code = "not_banned"
    status_code = 409
    default_message = "This worker has no standing ban."


class ReasonRequired(WorkersError):
    code = "reason_required"
    status_code = 400
    default_message = "Give a reason: it is kept on record."
