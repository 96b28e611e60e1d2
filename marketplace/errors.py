"""Errors the marketplace services raise. Each has a stable `code` that API clients can branch on.

The API's exception handler (`marketplace.api.errors`) turns them into `{"code", "message", "extra"}` with the
class's `status_code`; services never raise DRF exceptions.
"""

from payments.errors import DomainError


class MarketplaceError(DomainError):
    code = "marketplace_error"


class NotFound(MarketplaceError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class Forbidden(MarketplaceError):
    code = "forbidden"
    status_code = 403
    default_message = "You may not do this."


class InvalidTransition(MarketplaceError):
    code = "invalid_transition"
    status_code = 409
    default_message = "The job cannot move to that status from its current one."


class JobNotEditable(MarketplaceError):
    code = "job_not_editable"
    status_code = 409
    default_message = "These fields cannot change in the job's current status."


class JobNotLaunchable(MarketplaceError):
    code = "job_not_launchable"
    status_code = 409
    default_message = "The job cannot be launched yet."


class UploadNotAccepted(MarketplaceError):
    code = "upload_not_accepted"
    status_code = 409
    default_message = "The job does not accept this upload in its current status."


class UploadRejected(MarketplaceError):
    """The file had invalid rows; nothing from it was kept. `extra["errors"]` lists the first problems."""

    code = "invalid_upload"
    status_code = 400
    default_message = "The file has errors; nothing from it was imported."


class MediaRejected(MarketplaceError):
    """Some media files were refused (`extra["errors"]`: file, field, message each); none of them was recorded."""

    code = "invalid_media"
    status_code = 400
    default_message = "Some files were refused; none of them was kept."


class PredictionsRejected(MarketplaceError):
    """Some predictions were refused (`extra["errors"]`: index, field, message each); none was kept."""

    code = "invalid_predictions"
    status_code = 400
    default_message = "Some predictions were refused; none was kept."


class NotEligible(MarketplaceError):
    """The worker may not work on this job (own job, no worker role, blocked, not qualified)."""

    code = "not_eligible"
    status_code = 403
    default_message = "You cannot work on this job."


class NoWorkAvailable(MarketplaceError):
    code = "no_work_available"
    status_code = 409
    default_message = "No work is available on this job for you right now."


class TooManyOpenAssignments(MarketplaceError):
    code = "too_many_open_assignments"
    status_code = 409
    default_message = "Submit or release an open assignment of this job before claiming another."


class DailyCapReached(MarketplaceError):
    code = "daily_cap_reached"
    status_code = 409
    default_message = "You have claimed as many assignments of this job today (UTC) as it allows per day."


class AssignmentClosed(MarketplaceError):
    """The assignment expired or was released: it takes no submission."""

    code = "assignment_closed"
    status_code = 409
    default_message = "This assignment is closed."


class AlreadySubmitted(MarketplaceError):
    code = "already_submitted"
    status_code = 409
    default_message = "This assignment was already submitted with different answers."


class InvalidAnswers(MarketplaceError):
    code = "invalid_answers"
    status_code = 400
    default_message = "Some answers are missing or do not fit the job's label schema."


class WebhookLimitReached(MarketplaceError):
    code = "webhook_limit_reached"
    status_code = 409
    default_message = "Too many webhook endpoints here already; delete one first."


class AlreadyReviewed(MarketplaceError):
    code = "already_reviewed"
    status_code = 409
    default_message = "This assignment was already reviewed the other way."


class InvalidReview(MarketplaceError):
    code = "invalid_review"
    status_code = 400
    default_message = "The review is incomplete."


class InvalidDispute(MarketplaceError):
    """A message or note is missing, or the decision does not fit the dispute's kind; `extra["field"]` names it."""

    code = "invalid_dispute"
    status_code = 400
    default_message = "The dispute is incomplete."


class NotAppealable(MarketplaceError):
    code = "not_appealable"
    status_code = 409
    default_message = "Only a rejected assignment can be appealed."


class AppealWindowClosed(MarketplaceError):
    code = "appeal_window_closed"
    status_code = 409
    default_message = "The time to appeal this rejection has passed."


class AlreadyAppealed(MarketplaceError):
    """`extra["dispute"]` is the id of the appeal filed first."""

    code = "already_appealed"
    status_code = 409
    default_message = "This assignment was already appealed."


class AlreadyComplained(MarketplaceError):
    """`extra["dispute"]` is the id of the open complaint."""

    code = "already_complained"
    status_code = 409
    default_message = "A complaint about this worker on this job is already open."


class AlreadyResolved(MarketplaceError):
    """`extra["decision"]` is the decision already taken."""

    code = "already_resolved"
    status_code = 409
    default_message = "This dispute was already resolved."


class InvalidBlock(MarketplaceError):
    """A block or unblock without a reason, or of someone who is not a worker; `extra["field"]` names the field."""

    code = "invalid_block"
    status_code = 400
    default_message = "The block is incomplete."


class AlreadyBlocked(MarketplaceError):
    """`extra["block"]` is the id of the standing block."""

    code = "already_blocked"
    status_code = 409
    default_message = "This worker is already blocked here."


class NotBlocked(MarketplaceError):
    code = "not_blocked"
    status_code = 409
    default_message = "This worker is not blocked here."
