"""The worker's pages: find work, a job's page, and the task page (claim, answer, submit-and-next, skip).

Views are thin: a form validates, one service or selector of the API's does the work, a template renders. An
assignment's page shows its items by position only, with the same markup for every item, so nothing in the page,
its URLs or its requests tells gold from real items.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from marketplace import selectors
from marketplace.errors import InvalidAnswers, MarketplaceError, NotFound
from marketplace.models import Assignment, AssignmentStatus, Job
from marketplace.services.assignments import assignment_claim, assignment_release, assignment_submit_and_claim
from marketplace.services.disputes import appeal_file
from marketplace.web.access import role_required
from marketplace.web.markdown import markdown_html
from marketplace.web.task_items import item_rows
from marketplace.web.worker.forms import AnswersForm, AppealForm, PayoutForm, WorkSearchForm, widget_context
from payments.errors import PaymentsError
from payments.money import format_amount
from payments.selectors import balance_list, payout_list
from payments.services.payouts import payout_request
from workers.selectors import worker_profile_get

worker_required = role_required(lambda user: user.is_worker, "Only workers may open the work pages.")


@dataclass(frozen=True)
class JobRow:
    job: Job
    reward: str
    per_hour_floor: str


def _row(job: Job) -> JobRow:
    hourly = job.reward_cents * 3600 // max(job.assignment_duration_seconds, 1)
    return JobRow(job, format_amount(job.reward_cents, job.currency), format_amount(hourly, job.currency))


@require_GET
@worker_required
def job_list(request: HttpRequest) -> HttpResponse:
    form = WorkSearchForm(request.GET or None)
    jobs: list[JobRow] = []
    if form.is_valid() or not request.GET:
        arguments = form.search_arguments() if request.GET else {}
        jobs = [_row(job) for job in selectors.work_job_search(worker=request.user, **arguments)[:100]]
    held = selectors.worker_open_assignment_list(worker=request.user).select_related(None).only("id", "job_id")
    return render(request, "web/worker/job_list.html", {"form": form, "rows": jobs, "held": list(held)})


@require_GET
@worker_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.work_job_search(worker=request.user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job open to you.")
    held = selectors.worker_open_assignment_list(worker=request.user, job_id=job.pk).select_related(None).first()
    requirements = list(job.requirements.select_related("qualification").order_by("qualification__name"))
    context = {
        "row": _row(job),
        "held": held,
        "requirements": requirements,
        "instructions": markdown_html(job.instructions),
    }
    return render(request, "web/worker/job_detail.html", context)


@require_POST
@worker_required
def job_claim(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        assignment = assignment_claim(job_id=job_id, worker=request.user)
    except MarketplaceError as error:
        held = selectors.worker_open_assignment_list(worker=request.user, job_id=job_id).first()
        if held is not None:  # at the job's maximum of open tasks: carry on with the oldest
            return redirect("web:worker:assignment", assignment_id=held.pk)
        messages.info(request, str(error))
        return redirect("web:worker:jobs")
    return redirect("web:worker:assignment", assignment_id=assignment.pk)


@require_GET
@worker_required
def assignment_detail(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _own(request, assignment_id)
    if assignment.status != AssignmentStatus.OPEN:
        messages.info(request, f"That task is {assignment.get_status_display().lower()}.")
        return redirect("web:worker:jobs")
    form = _answers_form(assignment.job, positions=len(assignment.item_ids), initial=_prelabels(assignment))
    return _task_page(request, assignment, form)


def _prelabels(assignment: Assignment) -> dict[str, Any]:
    """A job that shows a model's pre-labels opens each item's widget on the model's answer (gold items too: every
    item of such a job has one)."""
    if not assignment.job.prelabel_model:
        return {}
    prelabels = selectors.assignment_prelabels(assignment=assignment)
    return {f"answer_{p}": prelabel["answer"] for p, prelabel in enumerate(prelabels) if prelabel is not None}


@require_POST
@worker_required
def assignment_submit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _own(request, assignment_id)
    form = _answers_form(assignment.job, request.POST, positions=len(assignment.item_ids))
    if not form.is_valid():
        return _task_page(request, assignment, form, status=400)
    try:
        _, following, refusal = assignment_submit_and_claim(
            assignment_id=assignment.pk, worker=request.user, answers=form.answers()
        )
    except InvalidAnswers as error:
        form.add_position_errors(error.extra.get("errors", []))
        return _task_page(request, assignment, form, status=400)
    except MarketplaceError as error:
        messages.warning(request, str(error))
        return redirect("web:worker:jobs")
    if following is None:
        messages.success(request, f"Submitted. {refusal or 'No more work on this job.'}")
        return redirect("web:worker:jobs")
    return redirect("web:worker:assignment", assignment_id=following.pk)


@require_POST
@worker_required
def assignment_skip(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """Release the task (its slot goes back to the pool) and go on to the job's next one."""
    try:
        released = assignment_release(assignment_id=assignment_id, worker=request.user)
    except NotFound:
        raise Http404("No such assignment.") from None
    except MarketplaceError as error:
        messages.warning(request, str(error))
        return redirect("web:worker:jobs")
    return job_claim(request, released.job_id)


def _own(request: HttpRequest, assignment_id: int) -> Assignment:
    try:
        return selectors.worker_assignment_get(worker=request.user, assignment_id=assignment_id)
    except NotFound:
        raise Http404("No such assignment.") from None


def _task_page(request: HttpRequest, assignment: Assignment, form: AnswersForm, status: int = 200) -> HttpResponse:
    job = assignment.job
    items = selectors.assignment_items(assignment=assignment)

    def media_url(position: int, field: str) -> str:  # through the assignment, the same shape for gold and real
        where = {"assignment_id": assignment.pk, "position": position, "field": field}
        return reverse("work-assignment-media", kwargs=where)

    positions = form.entries(item_rows(job, [item.payload for item in items], media_url), job.label_schema)
    context = {
        "assignment": assignment,
        "job": job,
        "form": form,
        "positions": positions,
        "row": _row(job),
        "instructions": markdown_html(job.instructions),
    }
    return render(request, "web/worker/assignment.html", context | widget_context(job.label_schema), status=status)


def _answers_form(job: Job, *args: Any, positions: int, **kwargs: Any) -> AnswersForm:
    return AnswersForm.for_schema(job.label_schema, *args, positions=positions, **kwargs)


@require_GET
@worker_required
def earnings(request: HttpRequest) -> HttpResponse:
    """Balance, earnings per job and day, payouts, reputation and own quality per job (gold answered and right, never
    which items),
    rejected work with its reason and appeal, blocks with their reason."""
    worker = request.user
    days = [
        {**row, "earned_display": format_amount(row["earned"], row["job__currency"])}
        for row in selectors.worker_earnings_by_job_day(worker=worker)[:200]
    ]
    balances = [
        (format_amount(balance.payable, balance.currency), PayoutForm(initial={"currency": balance.currency}))
        for balance in balance_list(user=worker)
    ]
    payouts = [(payout, format_amount(payout.amount, payout.currency)) for payout in payout_list(worker=worker)[:50]]
    context = {
        "balances": balances,
        "days": days,
        "payouts": payouts,
        "rejections": selectors.worker_rejection_list(worker=worker)[:50],
        "quality": selectors.worker_quality_list(worker=worker)[:50],
        "profile": worker_profile_get(worker=worker),
        "blocks": selectors.worker_block_list(worker=worker).prefetch_related(None)[:50],
    }
    return render(request, "web/worker/earnings.html", context)


@require_POST
@worker_required
def assignment_appeal(request: HttpRequest, assignment_id: int) -> HttpResponse:
    form = AppealForm(request.POST)
    if not form.is_valid():
        messages.warning(request, "Say why the rejection is wrong.")
        return redirect("web:worker:earnings")
    try:
        appeal = appeal_file(assignment_id=assignment_id, worker=request.user, message=form.cleaned_data["message"])
    except NotFound:
        raise Http404("No such assignment.") from None
    except MarketplaceError as error:
        messages.warning(request, str(error))
        return redirect("web:worker:earnings")
    messages.success(request, f"Appeal filed: {appeal.get_status_display().lower()}.")
    return redirect("web:worker:earnings")


@require_POST
@worker_required
def payout_create(request: HttpRequest) -> HttpResponse:
    form = PayoutForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("A payout needs its currency and key.")
    try:
        payout = payout_request(
            worker=request.user,
            currency=form.cleaned_data["currency"],
            idempotency_key=f"web-{form.cleaned_data['idempotency_key']}",
        )
    except PaymentsError as error:
        messages.warning(request, str(error))
    else:
        messages.success(request, f"Payout of {format_amount(payout.amount, payout.currency)} requested.")
    return redirect("web:worker:earnings")
