"""Celery's share of the request ids and metrics.

A task enqueued during a request carries the request's id in a message header and logs under it in the worker;
a task without one (beat's) gets a new id. A task run eagerly, inside the request that enqueued it, keeps the
request's id and leaves it in place afterwards. Each finished task is counted by name and state, failures on their
own. The worker logs through the project's LOGGING (each line with its request id), not Celery's own format.
"""

import logging.config
from typing import Any

from celery import Task
from celery.signals import before_task_publish, setup_logging, task_failure, task_postrun, task_prerun
from django.conf import settings
from django_guid import clear_guid, get_guid, set_guid
from django_guid.utils import generate_guid

from marketplace.observability import metrics

HEADER = "request_id"


@before_task_publish.connect
def _send_request_id(headers: dict[str, Any], **kwargs: Any) -> None:
    request_id = get_guid()
    if request_id:
        headers[HEADER] = request_id


@task_prerun.connect
def _adopt_request_id(task: Task, **kwargs: Any) -> None:
    if not task.request.is_eager:
        set_guid(task.request.get(HEADER) or generate_guid())


@task_postrun.connect
def _count_and_forget(task: Task, state: str | None = None, **kwargs: Any) -> None:
    metrics.TASKS.labels(task.name, state or "UNKNOWN").inc()
    if not task.request.is_eager:
        clear_guid()


@task_failure.connect
def _count_failure(sender: Task, **kwargs: Any) -> None:
    metrics.TASK_FAILURES.labels(sender.name).inc()


@setup_logging.connect
def _project_logging(**kwargs: Any) -> None:
    logging.config.dictConfig(settings.LOGGING)
