"""Admin for the marketplace: jobs, uploads, micro-tasks and items.

Money and counters are read-only here: they change only through the services, which keep the ledger and the
overlap invariants. Gold answers are visible to admins (they review gold), never to workers.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import construct_change_message
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from marketplace.errors import MarketplaceError
from marketplace.models import (
    DECISIONS_BY_KIND,
    Answer,
    Assignment,
    Block,
    Dispute,
    DisputeDecision,
    DisputeStatus,
    GoldExposure,
    HiddenRequester,
    Item,
    ItemResult,
    Job,
    JobAggregate,
    JobQualification,
    MediaFile,
    MicroTask,
    ModelEndpoint,
    ModelQuality,
    ModelRequest,
    Participation,
    Prediction,
    ProgressSnapshot,
    RequesterStanding,
    Upload,
    WebhookDelivery,
    WebhookEndpoint,
)
from marketplace.services.aggregation import aggregation_after_edit
from marketplace.services.blocks import job_worker_block, job_worker_unblock, requester_block, requester_unblock
from marketplace.services.disputes import dispute_resolve
from marketplace.services.jobs import job_editable_fields, job_update
from payments.errors import PaymentsError


class UploadInline(admin.TabularInline):
    model = Upload
    extra = 0
    can_delete = False
    fields = ["kind", "format", "original_name", "status", "items_created", "tasks_created", "created_at"]
    readonly_fields = fields
    show_change_link = True


class JobQualificationInline(admin.TabularInline):
    """Editable while the job's status lets the requester change its requirements (draft, paused)."""

    model = JobQualification
    extra = 0
    raw_id_fields = ["qualification"]
    verbose_name_plural = "required qualifications"

    def _editable(self, obj: Job | None) -> bool:
        return obj is not None and "required_qualifications" in job_editable_fields(obj)

    def has_add_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """A job is edited here under the API's rules: only the fields its status allows (`EDITABLE_FIELDS`) are
    editable, the required qualifications among them, and a save goes through `job_update` (which re-checks the
    status under the job's lock), so no admin save can change what workers answer, or what the job costs, after its
    launch. Jobs are created by requesters (`job_create`), not here."""

    list_display = ["id", "title", "requester", "status", "reward_cents", "currency", "overlap_min", "overlap_max"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["title", "requester__email"]
    list_select_related = ["requester"]
    date_hierarchy = "created_at"
    inlines = [JobQualificationInline, UploadInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> list[str]:
        editable = job_editable_fields(obj) if obj is not None else frozenset()
        return [field.name for field in Job._meta.fields if field.name not in editable]

    def save_model(self, request: HttpRequest, obj: Job, form: forms.ModelForm, change: bool) -> None:
        pass  # saved with its required qualifications, through the service, in save_related

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        for formset in formsets:
            if formset.model is JobQualification and formset.has_changed():
                fields["required_qualifications"] = _requirements(formset)
        if not fields:
            return
        try:
            job = job_update(job=form.instance, **fields)
        except (MarketplaceError, ValidationError) as refused:
            text = refused.message if isinstance(refused, MarketplaceError) else "; ".join(refused.messages)
            self.message_user(request, f"Not saved: {text}", level=messages.ERROR)
            request.job_refused = True  # type: ignore[attr-defined]
            return
        aggregation_after_edit(job=job, fields=fields)

    def construct_change_message(
        self, request: HttpRequest, form: forms.ModelForm, formsets: list, add: bool = False
    ) -> list[dict]:
        # The inline's rows were saved by the service, not by the formsets, which hold no record of them.
        return construct_change_message(form, [], add)

    def response_change(self, request: HttpRequest, obj: Job) -> HttpResponse:
        if getattr(request, "job_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


def _requirements(formset: forms.BaseModelFormSet) -> list[dict]:
    """The required qualifications the inline leaves, in the service's shape."""
    kept = [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
    return [{"qualification": data["qualification"].pk, "min_score": data["min_score"]} for data in kept]


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "kind", "format", "status", "items_created", "tasks_created", "created_at"]
    list_filter = ["kind", "status", "format"]
    search_fields = ["original_name", "job__title", "created_by__email"]
    list_select_related = ["job"]
    readonly_fields = [f.name for f in Upload._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(MicroTask)
class MicroTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "number", "n_items", "overlap_target", "assigned_count", "submitted_count"]
    list_filter = ["job__status"]
    search_fields = ["job__title", "=job__id"]
    list_select_related = ["job"]
    readonly_fields = [f.name for f in MicroTask._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "task", "row_number", "external_id", "is_gold"]
    list_filter = ["is_gold"]
    search_fields = ["external_id", "=job__id", "job__title"]
    list_select_related = ["job", "task"]
    raw_id_fields = ["job", "upload", "task"]
    readonly_fields = ["job", "upload", "task", "position", "row_number"]
    show_full_result_count = False  # an item table holds millions of rows: skip the COUNT(*) per page

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the engine writes: admins inspect them; changes go through the services (and the API)."""

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Participation)
class ParticipationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "job",
        "worker",
        "open_assignments",
        "submitted_assignments",
        "gold_answered",
        "gold_correct",
        "estimated_accuracy",
        "blocked_at",
    ]
    list_filter = [("blocked_at", admin.EmptyFieldListFilter)]
    search_fields = ["worker__email", "=job__id", "job__title"]
    list_select_related = ["job", "worker"]


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    fields = ["item", "value", "is_gold", "is_correct", "created_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "job", "task", "worker", "status", "created_at", "expires_at", "gold_correct", "gold_total"]
    list_filter = ["status", "created_at"]
    search_fields = ["worker__email", "=job__id", "=task__id"]
    list_select_related = ["job", "task", "worker"]
    date_hierarchy = "created_at"
    inlines = [AnswerInline]


@admin.register(Answer)
class AnswerAdmin(ReadOnlyAdmin):
    list_display = ["id", "job", "item", "worker", "value", "is_gold", "is_correct", "created_at"]
    list_filter = ["is_gold", "is_correct"]
    search_fields = ["worker__email", "=job__id", "=item__id"]
    list_select_related = ["job", "worker"]
    show_full_result_count = False


@admin.register(GoldExposure)
class GoldExposureAdmin(ReadOnlyAdmin):
    list_display = ["id", "job", "item", "worker", "assignment"]
    search_fields = ["worker__email", "=job__id", "=item__id"]
    list_select_related = ["job", "worker"]


@admin.register(JobAggregate)
class JobAggregateAdmin(ReadOnlyAdmin):
    list_display = [
        *("job", "method", "worker_model", "n_items", "n_answers", "iterations", "converged", "duration_ms"),
        "computed_at",
    ]
    list_filter = ["converged", "method", "worker_model"]
    search_fields = ["=job__id", "job__title"]
    list_select_related = ["job"]


@admin.register(ItemResult)
class ItemResultAdmin(ReadOnlyAdmin):
    list_display = ["item", "job", "label", "confidence", "answer_count", "updated_at"]
    search_fields = ["=job__id", "=item__id", "item__external_id"]
    list_select_related = ["job", "item"]
    show_full_result_count = False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Admins may switch an endpoint off or delete it; the secret is never shown here, only its hint."""

    list_display = ["id", "owner", "job", "url", "is_active", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["url", "owner__email", "=job__id"]
    list_select_related = ["owner", "job"]
    raw_id_fields = ["owner", "job"]
    fields = ["owner", "job", "url", "events", "description", "is_active", "secret_hint", "created_at", "updated_at"]
    readonly_fields = ["owner", "job", "url", "events", "secret_hint", "created_at", "updated_at"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "endpoint", "event_type", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event_type", "created_at"]
    search_fields = ["=event_id", "=endpoint__id", "endpoint__url"]
    list_select_related = ["endpoint"]
    show_full_result_count = False


class DisputeDecideForm(forms.ModelForm):
    """Every field of a dispute is read-only; an open one gets a decision and a note, which the service applies."""

    decide = forms.ChoiceField(label="Decision", required=False)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        required=False,
        help_text="Why: required with a decision, kept on record (the worker reads it on an appeal, and as the reason "
        "of their block when a complaint is acted on).",
    )

    class Meta:
        model = Dispute
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        choices = [(d, DisputeDecision(d).label) for d in DECISIONS_BY_KIND.get(self.instance.kind, ())]
        self.fields["decide"].choices = [("", "Keep open"), *choices]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("decide") and not (data.get("note") or "").strip():
            self.add_error("note", "A decision needs a note saying why.")
        return data


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """The dispute queue, oldest first (filter Status: Open). An open dispute is decided on its page: pick a decision,
    write why, save. The service does the rest: an overturn approves and pays the assignment, `act` blocks the worker
    from the job (the note is the reason they read), and every decision records who, why and when. A resolved
    dispute is read-only; nothing is added or deleted here."""

    form = DisputeDecideForm
    list_display = [
        "id",
        "kind",
        "status",
        "job",
        "worker",
        "filed_by",
        "agreement",
        "pending_reason",
        "decision",
        "resolved_by",
        "created_at",
    ]
    list_filter = ["status", "kind", "decision", "created_at"]
    search_fields = ["worker__email", "filed_by__email", "=job__id", "=assignment__id", "message"]
    list_select_related = ["job", "worker", "filed_by", "resolved_by"]
    ordering = ["created_at", "id"]
    readonly_fields = [
        "kind",
        "status",
        "job",
        "assignment",
        "rejection",
        "worker",
        "filed_by",
        "message",
        "created_at",
        "agreement",
        "pending_reason",
        "decision",
        "action",
        "resolution_note",
        "resolved_by",
        "resolved_at",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Dispute | None = None) -> list:
        fieldsets: list = [
            (None, {"fields": ["kind", "status", "job", "assignment", "rejection", "worker", "filed_by", "message"]}),
            ("Automatic check", {"fields": ["agreement", "pending_reason", "created_at"]}),
        ]
        if obj is not None and obj.status == DisputeStatus.OPEN:
            return [*fieldsets, ("Decide", {"fields": ["decide", "note"]})]
        decided = ["decision", "action", "resolution_note", "resolved_by", "resolved_at"]
        return [*fieldsets, ("Decision", {"fields": decided})]

    @admin.display(description="Rejection")
    def rejection(self, obj: Dispute) -> str:
        assignment = obj.assignment
        if assignment is None:
            return "-"
        return f"{assignment.get_review_status_display()}; rejected because: {assignment.reject_reason or '-'}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Dispute | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Dispute | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.status == DisputeStatus.OPEN)

    @csrf_protect_m
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        # Django runs a POST here inside atomic(); the resolution service opens its own durable transaction (money
        # moves, and its webhook goes out after its own commit), so the form is processed outside any outer block.
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Dispute, form: DisputeDecideForm, change: bool) -> None:
        decision = form.cleaned_data.get("decide")
        if not decision:
            return  # every other field is read-only: nothing to save
        try:
            dispute_resolve(dispute_id=obj.pk, decision=decision, note=form.cleaned_data["note"], by=request.user)
        except (MarketplaceError, PaymentsError) as refused:
            self.message_user(request, f"Not resolved: {refused.message}", level=messages.ERROR)
            request.dispute_refused = True  # type: ignore[attr-defined]
        obj.refresh_from_db()

    def response_change(self, request: HttpRequest, obj: Dispute) -> HttpResponse:
        if getattr(request, "dispute_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


class BlockForm(forms.ModelForm):
    """A new block: the worker, a job (or, with no job, a requester: every job of theirs) and the reason. A standing
    block: a reason to lift it. The services do the rest (and refuse what the API would refuse)."""

    lift = forms.CharField(
        label="Lift the block, because",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=False,
        help_text="Kept on record. Work the block rejected is reopened for review (the escrow must cover it).",
    )

    class Meta:
        model = Block
        fields = ["worker", "job", "requester", "reason"]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if "requester" in self.fields:
            self.fields["requester"].required = False  # a job names its requester

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.instance.pk is None and not (data.get("job") or data.get("requester")):
            self.add_error("requester", "Name a job, or a requester to block the worker from all their jobs.")
        return data


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    """Blocks of workers, on a job or on every job of a requester: staff add one (through the services, like a
    requester's) or lift a standing one, always with a reason; nothing is deleted."""

    form = BlockForm
    list_display = ["id", "worker", "job", "requester", "source", "reason", "created_by", "created_at", "lifted_at"]
    list_filter = ["source", ("lifted_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["worker__email", "requester__email", "=job__id", "reason"]
    list_select_related = ["worker", "job", "requester", "created_by"]
    raw_id_fields = ["worker", "job", "requester"]
    lifecycle = ["source", "created_by", "created_at", "lifted_at", "lifted_by", "lift_reason"]

    def get_fields(self, request: HttpRequest, obj: Block | None = None) -> list[str]:
        if obj is None:
            return ["worker", "job", "requester", "reason"]
        return ["worker", "job", "requester", "reason", *self.lifecycle, *(["lift"] if not obj.lifted_at else [])]

    def get_readonly_fields(self, request: HttpRequest, obj: Block | None = None) -> list[str]:
        return [] if obj is None else ["worker", "job", "requester", "reason", *self.lifecycle]

    def has_delete_permission(self, request: HttpRequest, obj: Block | None = None) -> bool:
        return False

    @csrf_protect_m
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return self._changeform_view(request, object_id, form_url, extra_context)  # the services' own transactions

    def save_model(self, request: HttpRequest, obj: Block, form: BlockForm, change: bool) -> None:
        data, worker_id = form.cleaned_data, obj.worker_id
        try:
            if not change:
                done = (
                    job_worker_block(job=obj.job, worker_id=worker_id, reason=data["reason"], by=request.user)
                    if obj.job_id
                    else requester_block(
                        requester=obj.requester, worker_id=worker_id, reason=data["reason"], by=request.user
                    )
                )
                obj.pk, obj._state.adding = done.pk, False
            elif data.get("lift"):
                if obj.job_id:
                    job_worker_unblock(job=obj.job, worker_id=worker_id, reason=data["lift"], by=request.user)
                else:
                    requester_unblock(
                        requester=obj.requester, worker_id=worker_id, reason=data["lift"], by=request.user
                    )
        except (MarketplaceError, PaymentsError) as refused:
            self.message_user(request, f"Not done: {refused.message}", level=messages.ERROR)
            request.block_refused = True  # type: ignore[attr-defined]

    def log_addition(self, request: HttpRequest, obj: Block, message: object) -> object:
        return None if obj.pk is None else super().log_addition(request, obj, message)

    def response_add(self, request: HttpRequest, obj: Block, post_url_continue: str | None = None) -> HttpResponse:
        if getattr(request, "block_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Block) -> HttpResponse:
        if getattr(request, "block_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(MediaFile)
class MediaFileAdmin(ReadOnlyAdmin):
    """Items' media as uploaded (through the API: `POST /api/v1/jobs/{id}/media/`)."""

    list_display = ["name", "job", "kind", "content_type", "size", "width", "height", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "=job__id", "sha256"]
    list_select_related = ["job"]


@admin.register(RequesterStanding)
class RequesterStandingAdmin(ReadOnlyAdmin):
    """What workers see of each requester (recomputed by beat from the review and appeal records)."""

    list_display = ["requester", "reviews", "rejected", "review_hours_median", "pay_hours_median", "computed_at"]
    search_fields = ["requester__email"]
    list_select_related = ["requester"]


@admin.register(ProgressSnapshot)
class ProgressSnapshotAdmin(ReadOnlyAdmin):
    """A job's progress after aggregation runs (the dashboard's progress over time): written by the service only."""

    list_display = ["job", "taken_at", "items_complete", "answers", "assignments_open"]
    list_filter = ["taken_at"]
    search_fields = ["job__title"]
    list_select_related = ["job"]


@admin.register(HiddenRequester)
class HiddenRequesterAdmin(ReadOnlyAdmin):
    list_display = ["worker", "requester", "created_at"]
    search_fields = ["worker__email", "requester__email"]
    list_select_related = ["worker", "requester"]


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    """Models' answers on items (sent through `POST /api/v1/jobs/{id}/predictions/`)."""

    list_display = ["item", "model", "answer", "score", "updated_at"]
    list_filter = ["model"]
    search_fields = ["=job__id", "model"]
    raw_id_fields = ["item"]
    show_full_result_count = False


@admin.register(ModelQuality)
class ModelQualityAdmin(ReadOnlyAdmin):
    """What the aggregation learned of each model version on a job (written by the aggregation only)."""

    list_display = ["job", "model", "predictions", "estimated_accuracy", "updated_at"]
    search_fields = ["=job__id", "model"]
    raw_id_fields = ["job"]


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(ReadOnlyAdmin):
    """Requesters' models asked about their jobs' items (managed through the API; the secret is never shown)."""

    list_display = ["job", "model", "url", "is_active", "created_at"]
    exclude = ["secret"]
    search_fields = ["=job__id", "model"]
    raw_id_fields = ["job"]


@admin.register(ModelRequest)
class ModelRequestAdmin(ReadOnlyAdmin):
    list_display = ["endpoint", "status", "attempts", "last_status_code", "last_error", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["endpoint"]
    show_full_result_count = False
