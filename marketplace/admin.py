"""Admin for the marketplace: jobs, uploads, micro-tasks and items.

Money and counters are read-only here: they change only through the services, which keep the ledger and the
overlap invariants. Gold answers are visible to admins (they review gold), never to workers.
"""

from django.contrib import admin

from marketplace.models import (
    Answer,
    Assignment,
    GoldExposure,
    Item,
    ItemResult,
    Job,
    JobAggregate,
    MicroTask,
    Participation,
    Upload,
    WebhookDelivery,
    WebhookEndpoint,
)


class UploadInline(admin.TabularInline):
    model = Upload
    extra = 0
    can_delete = False
    fields = ["kind", "format", "original_name", "status", "items_created", "tasks_created", "created_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "requester", "status", "reward_cents", "currency", "overlap_min", "overlap_max"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["title", "requester__email"]
    list_select_related = ["requester"]
    date_hierarchy = "created_at"
    raw_id_fields = ["requester"]
    readonly_fields = ["status", "reward_cents", "currency", "created_at", "updated_at", "launched_at", "finished_at"]
    inlines = [UploadInline]


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
    list_display = ["job", "method", "n_items", "n_answers", "iterations", "converged", "duration_ms", "computed_at"]
    list_filter = ["converged", "method"]
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
