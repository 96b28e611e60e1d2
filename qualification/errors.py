"""Errors the qualification services raise. Each has a stable `code` that API clients can branch on.

Same shape as `marketplace.errors.MarketplaceError`: the API's one exception handler renders
`{"code", "message", "extra"}` with the class's `status_code`. Services never raise DRF exceptions.
"""

from payments.errors import DomainError


class QualificationError(DomainError):
    code = "qualification_error"


class NotFound(QualificationError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class Forbidden(QualificationError):
    code = "forbidden"
    status_code = 403
    default_message = "Only the qualification's owner (or an admin) may do this."


class InvalidQuestions(QualificationError):
    """Some questions' answer keys do not fit the label schema; nothing was kept. `extra["errors"]` names them."""

    code = "invalid_questions"
    status_code = 400
    default_message = "Some questions are invalid; none was saved."


class NotAWorker(QualificationError):
    code = "not_a_worker"
    status_code = 400
    default_message = "Only a user with the worker role can hold a qualification."


class NotEligible(QualificationError):
    """The user may not take this test at all (no worker role, or it is their own qualification)."""

    code = "not_eligible"
    status_code = 403
    default_message = "You cannot take this qualification test."


class QualificationInactive(QualificationError):
    code = "qualification_inactive"
    status_code = 409
    default_message = "This qualification's test is closed."


class AlreadyQualified(QualificationError):
    code = "already_qualified"
    status_code = 409
    default_message = "You already hold this qualification."


class QualificationRevoked(QualificationError):
    code = "qualification_revoked"
    status_code = 409
    default_message = "Your qualification was revoked; only its owner can grant it again."


class AttemptLimitReached(QualificationError):
    code = "attempt_limit_reached"
    status_code = 409
    default_message = "You have used every attempt this qualification allows."


class RetakeCooldown(QualificationError):
    """Too soon after the last attempt; `extra["retake_allowed_at"]` says when a retake is allowed."""

    code = "retake_cooldown"
    status_code = 409
    default_message = "You cannot retake this test yet."


class AttemptClosed(QualificationError):
    """The attempt expired (its time limit passed): it takes no submission, and it counts as an attempt."""

    code = "attempt_closed"
    status_code = 409
    default_message = "This attempt is closed."


class AlreadySubmitted(QualificationError):
    code = "already_submitted"
    status_code = 409
    default_message = "This attempt was already submitted with different answers."


class InvalidAnswers(QualificationError):
    code = "invalid_answers"
    status_code = 400
    default_message = "Some answers are missing or do not fit the qualification's label schema."


class GrantConflict(QualificationError):
    code = "grant_conflict"
    status_code = 409
    default_message = "The worker's grant changed at the same time; try again."
