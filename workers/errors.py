"""Errors of the workers app: each has a stable `code` and the HTTP status the API answers with."""

from payments.errors import DomainError


class WorkersError(DomainError):
    code = "workers_error"


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
