"""A job's dashboard (progress, money, confidence, labels, workers with block/unblock), its results and its review."""

from collections.abc import Iterable
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketplace import selectors
from marketplace.aggregation.types import answer_type
from marketplace.models import AssignmentStatus, Job, JobAggregate, Participation, ReviewStatus
from marketplace.schemas import parse_label_schema
from marketplace.selectors_dashboard import (
    CONFIDENCE_BINS,
    item_answers,
    job_dashboard,
    job_dashboard_workers,
    job_disputes,
    job_flagged_gold,
    job_progress_history,
)
from marketplace.selectors_models import model_quality_list
from marketplace.services.agreement import job_agreement
from marketplace.services.blocks import job_worker_block, job_worker_unblock
from marketplace.services.disputes import complaint_file
from marketplace.services.jobs import job_can
from marketplace.services.quality import gold_review
from marketplace.services.reviews import assignments_review
from marketplace.web.actions import run_service
from marketplace.web.charts import bar_chart, step_chart
from marketplace.web.requester.access import account, own_job, requester_required
from marketplace.web.requester.forms import BlockForm, ComplaintForm, GoldReviewForm, ReviewForm
from payments.money import format_amount

# What the results page calls each type's own export format.
EXPORT_TITLES = {"coco": "COCO JSON (boxes)", "conll": "CoNLL BIO (spans)", "spacy": "spaCy JSONL (spans)"}
# What the results page calls the worker model an aggregation fitted (`JobAggregate.worker_model`).
WORKER_MODEL_NAMES = {"dawid_skene": "full Dawid-Skene", "one_coin": "one-coin", "class_one_coin": "class one-coin"}
# A page shows this many rows at most: the dashboard's least accurate workers, the oldest pending submissions.
WORKERS_SHOWN = 100
PENDING_SHOWN = 100


@requester_required
def dashboard(request: HttpRequest, job_id: int) -> HttpResponse:
    job = own_job(request, job_id)
    data = job_dashboard(job=job)
    progress, spend = data["progress"], data["spend"]
    tenths = [f"{i / CONFIDENCE_BINS:.1f}" for i in range(CONFIDENCE_BINS)]
    history = job_progress_history(job=job)
    charts = [
        bar_chart(
            "Progress",
            [
                ("items done", progress["items_complete"]),
                ("items", progress["items_total"]),
                ("answers", progress["answers_collected"]),
                ("open", progress["assignments_open"]),
            ],
        ),
        step_chart(
            "Items done over time (UTC)", [(snapshot.taken_at, snapshot.items_complete) for snapshot in history]
        ),
        step_chart("Answers over time (UTC)", [(snapshot.taken_at, snapshot.answers) for snapshot in history]),
        step_chart(
            "Open assignments over time (UTC)", [(snapshot.taken_at, snapshot.assignments_open) for snapshot in history]
        ),
        bar_chart("Submissions per hour, last 24 hours", data["submissions_per_hour"]),
        bar_chart("Confidence of the labels", list(zip(tenths, data["confidence"], strict=True))),
        bar_chart("Items per label", data["labels"]),
        bar_chart("Mean confidence per label", data["agreement"], fmt="{:.2f}"),
        bar_chart(f"Money ({spend.currency}, minor units)", [("paid", spend.paid), ("in escrow", spend.in_escrow)]),
    ]
    context = {
        "job": job,
        "progress": progress,
        "spend": {
            "paid": format_amount(spend.paid, spend.currency),
            "escrow": format_amount(spend.in_escrow, spend.currency),
        },
        "charts": charts,
        "history": history,
        "workers": _with_confusion(job_dashboard_workers(job=job)[:WORKERS_SHOWN], job),
        "classes": parse_label_schema(job.label_schema).classes,
        "flagged_gold": job_flagged_gold(job=job),
        "workers_shown": WORKERS_SHOWN,
        "models": model_quality_list(job=job),
        "block_form": BlockForm(),
        "actions": [action for action in ("pause", "resume", "cancel") if job_can(job, action)],
    }
    return render(request, "web/requester/dashboard.html", context)


def _with_confusion(workers: Iterable[Participation], job: Job) -> list[Participation]:
    """Each worker's confusion matrix as rows of (true class, [(share, percent)]) for the heatmap table."""
    classes = parse_label_schema(job.label_schema).classes
    shown = list(workers)
    for p in shown:
        matrix = p.confusion if p.confusion and len(p.confusion) == len(classes) else None
        p.confusion_rows = (
            [(name, [(round(v, 2), round(v * 100)) for v in row]) for name, row in zip(classes, matrix, strict=True)]
            if matrix
            else []
        )
    return shown


@requester_required
@require_POST
def gold_settle(request: HttpRequest, job_id: int) -> HttpResponse:
    """Keep or correct a flagged gold key (services.quality.gold_review, as the API's gold-review)."""
    job = own_job(request, job_id)
    form = GoldReviewForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        run_service(
            request,
            lambda: gold_review(job=job, item_id=data["item"], gold_answer=data["gold_answer"]),
            success=lambda item: f"Gold item #{item.pk} settled: {item.gold_answer}.",
        )
    else:
        messages.error(request, "Choose the right answer for the gold item.")
    return redirect("web:requester:dashboard", job_id=job.pk)


@requester_required
@require_POST
def complain(request: HttpRequest, job_id: int) -> HttpResponse:
    """Complain about a worker of the job, for an admin to decide (services.disputes.complaint_file)."""
    job = own_job(request, job_id)
    form = ComplaintForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the worker and say what is wrong.")
        return redirect("web:requester:review", job_id=job.pk)
    data = form.cleaned_data
    run_service(
        request,
        lambda: complaint_file(job=job, worker_id=data["worker"], message=data["message"], by=account(request)),
        success=lambda complaint: f"Complaint #{complaint.pk} about worker #{complaint.worker_id} filed.",
    )
    return redirect("web:requester:review", job_id=job.pk)


@requester_required
@require_POST
def worker_block(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    """Block a worker from the job, or lift the block, with a reason (services.blocks: the same rules as the API)."""
    job = own_job(request, job_id)
    form = BlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for blocking or unblocking a worker.")
        return redirect("web:requester:dashboard", job_id=job.pk)
    service, data = (job_worker_block if action == "block" else job_worker_unblock), form.cleaned_data
    run_service(
        request,
        lambda: service(job=job, worker_id=data["worker"], reason=data["reason"], by=account(request)),
        success=lambda block: f"Worker #{data['worker']} {action}ed.",
    )
    return redirect("web:requester:dashboard", job_id=job.pk)


@requester_required
def results(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's items with their label and confidence, filtered by label, confidence below a bound, or a worker."""
    job = own_job(request, job_id)
    items = selectors.result_list(job=job)
    label, below, worker = request.GET.get("label"), request.GET.get("below"), request.GET.get("worker")
    if label:
        items = items.filter(result__label=label)
    if below:
        try:
            items = items.filter(result__confidence__lt=float(below))
        except ValueError:
            messages.error(request, "The confidence bound must be a number between 0 and 1.")
    if worker and worker.isdigit():
        items = items.filter(answers__worker_id=int(worker)).distinct()
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    answers = item_answers(item_ids=[item.pk for item in page])
    media = selectors.media_fields(job)
    rows = [(item, _shown_fields(job, item.payload, media), answers.get(item.pk, [])) for item in page]
    filters = {"label": label, "below": below, "worker": worker}
    query = urlencode({name: value for name, value in filters.items() if value})
    aggregate = selectors.job_aggregate_get(job=job)
    context = {
        "job": job,
        "page": page,
        "rows": rows,
        "filters": filters,
        "query": query,
        # The answer type's own formats, for ML tools (COCO for boxes, CoNLL and spaCy for spans), and the ranking
        # of a type that scores what its items compare (pairwise).
        "ml_exports": [(fmt, EXPORT_TITLES.get(fmt, fmt)) for fmt in answer_type(job.label_schema["type"]).exports],
        "ranking": bool(aggregate and aggregate.item_scores),
        "worker_model": _worker_model_line(aggregate),
    }
    return render(request, "web/requester/results.html", context)


def _worker_model_line(aggregate: JobAggregate | None) -> str:
    """Which worker model the latest run fitted and why, e.g. "one-coin (chosen: ...)"; "" before a single-choice
    run."""
    if aggregate is None or not aggregate.worker_model:
        return ""
    name = WORKER_MODEL_NAMES.get(aggregate.worker_model, aggregate.worker_model)
    return f"{name} ({aggregate.worker_model_reason})"


def _shown_fields(job: Job, payload: dict, media: dict[str, str]) -> list[tuple[str, object, str, str]]:
    """An item's fields as the results page shows them: (name, value, media kind or "", the file's URL or "")."""
    return [
        (name, value, media[name], reverse("job-media-file", args=[job.pk, value]))
        if name in media and isinstance(value, str) and value
        else (name, value, "", "")
        for name, value in payload.items()
    ]


@requester_required
def agreement(request: HttpRequest, job_id: int) -> HttpResponse:
    """How much the workers agree, overall and per class (the API's `jobs/{id}/agreement/`): computed on request
    from the job's answers, so it is a page of its own, not part of the dashboard's fixed-cost reads."""
    job = own_job(request, job_id)
    classes = parse_label_schema(job.label_schema).classes
    figures = job_agreement(job=job) if classes else None
    return render(request, "web/requester/agreement.html", {"job": job, "figures": figures})


@requester_required
def review(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's submissions pending review; approve or reject the ticked ones (bulk, keyboard: space ticks)."""
    job = own_job(request, job_id)
    pending_all = selectors.job_assignment_list(job=job).filter(
        status=AssignmentStatus.SUBMITTED, review_status=ReviewStatus.PENDING
    )
    pending = list(pending_all[:PENDING_SHOWN])  # the oldest first: the next to auto-approve
    form = ReviewForm(request.POST or None, pending=[a.pk for a in pending])
    if request.method == "POST" and form.is_valid():
        ids, reason = form.cleaned_data["assignments"], form.cleaned_data["reason"]
        approve = ids if form.cleaned_data["action"] == "approve" else []
        reject = [(i, reason) for i in ids] if form.cleaned_data["action"] == "reject" else []
        done = assignments_review(job=job, approve=approve, reject=reject, by=account(request))
        for refused in done["refused"]:
            messages.error(request, f"#{refused['id']}: {refused['message']}")
        messages.success(request, f"{len(done['approved'])} approved, {len(done['rejected'])} rejected.")
        return redirect("web:requester:review", job_id=job.pk)
    recent = (
        selectors.job_assignment_list(job=job)
        .exclude(review_status=ReviewStatus.PENDING)
        .prefetch_related("appeals")
        .order_by("-reviewed_at")[:50]
    )
    context = {
        "job": job,
        "pending": pending,
        "form": form,
        "recent": recent,
        "shown": PENDING_SHOWN,
        "disputes": job_disputes(job=job),
        "complaint_form": ComplaintForm(),
    }
    if len(pending) == PENDING_SHOWN:
        context["pending_total"] = pending_all.count()
    return render(request, "web/requester/review.html", context, status=400 if form.errors else 200)
