"""Reads. Every selector that serves a requester or a worker scopes its queryset to what that user may see."""

from django.db.models import QuerySet

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.models import Item, Job, MicroTask, Upload


def job_list(*, requester: User) -> QuerySet[Job]:
    return Job.objects.filter(requester=requester).select_related("requester")


def job_get(*, requester: User, job_id: int) -> Job:
    """The requester's own job; another requester's job is indistinguishable from a missing one (404)."""
    job = job_list(requester=requester).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def upload_list(*, requester: User) -> QuerySet[Upload]:
    return Upload.objects.filter(job__requester=requester).select_related("job")


def upload_get(*, requester: User, upload_id: int) -> Upload:
    upload = upload_list(requester=requester).filter(pk=upload_id).first()
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def item_list(*, job: Job) -> QuerySet[Item]:
    return Item.objects.filter(job=job).order_by("id")


def task_list(*, job: Job) -> QuerySet[MicroTask]:
    return MicroTask.objects.filter(job=job).order_by("number")
