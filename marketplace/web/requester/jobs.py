"""The requester's job pages: the list, the guided form, and the setup page (uploads, cost, deposit, launch).

Each view checks the user (`requester_required`), reads through a selector or writes through one service, and
renders. A refusal from a service becomes a message or a form error with its status code, never a 500."""

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketplace import selectors
from marketplace.errors import MarketplaceError, MediaRejected, UploadRejected
from marketplace.models import Job
from marketplace.services.jobs import job_create, job_transition
from marketplace.services.media import media_upload
from marketplace.services.reviews import job_cost_quote
from marketplace.services.uploads import upload_receive
from marketplace.web.actions import run_service
from marketplace.web.markdown import markdown_html
from marketplace.web.requester.access import account, own_job, requester_required
from marketplace.web.requester.forms import (
    FIELD_OF_ERROR,
    PACES_SECONDS,
    DepositForm,
    JobForm,
    MediaForm,
    UploadForm,
)
from marketplace.web.task_items import item_rows
from marketplace.web.worker.forms import AnswersForm, widget_context
from payments.errors import PaymentsError
from payments.money import format_amount, to_decimal
from payments.services.deposits import deposit_create


@requester_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = selectors.job_list(requester=account(request)).order_by("-id")
    return render(request, "web/requester/job_list.html", {"jobs": jobs})


@requester_required
def job_new(request: HttpRequest) -> HttpResponse:
    form = JobForm(request.POST or None, user=account(request))
    if request.method == "POST" and form.is_valid():
        try:
            job = job_create(requester=account(request), **form.to_service_fields())
        except ValidationError as exc:
            _errors_on_form(form, exc)
        else:
            messages.success(request, "Draft saved. Upload its items and gold, then launch it.")
            return redirect("web:requester:job", job_id=job.pk)
    status = 400 if form.errors else 200
    return render(request, "web/requester/job_new.html", {"form": form}, status=status)


def _errors_on_form(form: JobForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        name = FIELD_OF_ERROR.get(field, field)
        form.add_error(name if name in form.fields else None, errors)


@requester_required
@require_POST
def instructions_preview(request: HttpRequest) -> HttpResponse:
    """The instructions as workers will read them (htmx swaps this fragment in under the text area)."""
    html = markdown_html(request.POST.get("instructions", ""))
    return render(request, "web/requester/_instructions.html", {"instructions": html})


@requester_required
def task_preview(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's task page as a worker sees it (the instructions, the real widgets and keys) on its real items, a
    task's worth at a time (`?page=N`). Nothing is claimed or recorded: the form only brings the next items."""
    job = own_job(request, job_id)
    page = Paginator(selectors.item_list(job=job).filter(is_gold=False), job.items_per_task).get_page(
        request.GET.get("page")
    )
    payloads = [item.payload for item in page]

    def media_url(position: int, field: str) -> str:  # the requester's own view of the file
        return reverse("job-media-file", args=[job.pk, payloads[position][field]])

    form = AnswersForm.for_schema(job.label_schema, positions=len(payloads))
    context = {
        "job": job,
        "page": page,
        "positions": form.entries(item_rows(job, payloads, media_url), job.label_schema),
        "instructions": markdown_html(job.instructions),
    }
    return render(request, "web/requester/task_preview.html", context | widget_context(job.label_schema))


@requester_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = own_job(request, job_id)
    return _setup_page(request, job, upload_form=UploadForm(), status=200)


def _setup_page(
    request: HttpRequest,
    job: Job,
    *,
    upload_form: UploadForm,
    status: int,
    rejected: UploadRejected | None = None,
    media_form: MediaForm | None = None,
    media_rejected: MediaRejected | None = None,
) -> HttpResponse:
    quote = job_cost_quote(job)
    takes_media = bool(selectors.media_fields(job))  # the media section only for jobs whose items name files
    context = {
        "job": job,
        "instructions": markdown_html(job.instructions),
        "quote": quote,
        "money": {k: format_amount(getattr(quote, k), quote.currency) for k in _MONEY_PARTS},
        "shortfall": format_amount(quote.shortfall_cents or 0, quote.currency),
        "shortfall_decimal": to_decimal(quote.shortfall_cents or 0, quote.currency),
        "hourly": _hourly(job),
        "uploads": selectors.upload_list(requester=account(request)).filter(job=job).order_by("-id"),
        "upload_form": upload_form,
        "deposit_form": DepositForm(initial={"idempotency_key": uuid.uuid4().hex}),
        "rejected": rejected,
        "takes_media": takes_media,
        "media_count": selectors.media_list(job=job).count() if takes_media else 0,
        "media_form": media_form or MediaForm(),
        "media_rejected": media_rejected,
    }
    return render(request, "web/requester/job_detail.html", context, status=status)


_MONEY_PARTS = ("reward_cents", "fee_cents", "total_cents", "available_cents")


def _hourly(job: Job) -> list[tuple[int, str]]:
    """What the reward means per hour to a worker who spends `pace` seconds on each item of an assignment."""
    seconds = job.items_per_assignment
    return [
        (pace, format_amount(round(job.reward_cents * 3600 / (seconds * pace)), job.currency)) for pace in PACES_SECONDS
    ]


@requester_required
@require_POST
def job_upload(request: HttpRequest, job_id: int) -> HttpResponse:
    job = own_job(request, job_id)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _setup_page(request, job, upload_form=form, status=400)
    file, kind = form.cleaned_data["file"], form.cleaned_data["kind"]
    try:
        upload = upload_receive(job=job, user=account(request), file=file, kind=kind)
    except UploadRejected as rejected:
        return _setup_page(request, job, upload_form=form, status=400, rejected=rejected)
    except MarketplaceError as exc:
        messages.error(request, exc.message)
        return redirect("web:requester:job", job_id=job.pk)
    messages.success(request, f"{upload.original_name}: {upload.items_created} {kind} rows accepted.")
    return redirect("web:requester:job", job_id=job.pk)


@requester_required
@require_POST
def job_media(request: HttpRequest, job_id: int) -> HttpResponse:
    """Files the items name (several, or a zip), through the API's service: one bad file and none is kept."""
    job = own_job(request, job_id)
    form = MediaForm(request.POST, request.FILES)
    if not form.is_valid():
        return _setup_page(request, job, upload_form=UploadForm(), status=400, media_form=form)
    try:
        stored = media_upload(job=job, files=form.cleaned_data["files"])
    except MediaRejected as rejected:
        return _setup_page(request, job, upload_form=UploadForm(), status=400, media_form=form, media_rejected=rejected)
    except MarketplaceError as exc:
        messages.error(request, exc.message)
        return redirect("web:requester:job", job_id=job.pk)
    messages.success(request, f"{len(stored)} media files stored.")
    return redirect("web:requester:job", job_id=job.pk)


@requester_required
@require_POST
def deposit(request: HttpRequest, job_id: int) -> HttpResponse:
    """A sandbox deposit in the job's currency; the form's key makes a double submit credit once."""
    job = own_job(request, job_id)
    form = DepositForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter an amount to deposit, e.g. 12.50.")
        return redirect("web:requester:job", job_id=job.pk)
    amount = int(form.cleaned_data["amount"] / to_decimal(1, job.currency))  # major units -> minor
    try:
        deposit_create(
            user=account(request),
            amount=amount,
            currency=job.currency,
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except PaymentsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deposited {format_amount(amount, job.currency)}.")
    return redirect("web:requester:job", job_id=job.pk)


@requester_required
@require_POST
def job_action(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    job = own_job(request, job_id)
    moved = run_service(
        request, lambda: job_transition(job=job, action=action), success=lambda job: f"The job is {job.status}."
    )
    return redirect("web:requester:dashboard" if moved else "web:requester:job", job_id=job.pk)
