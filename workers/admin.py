"""Admin for worker profiles and platform-wide bans. Bans are made and lifted through the services, with a reason."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from workers.errors import WorkersError
from workers.models import Ban, Notification, NotificationSetting, WorkerProfile
from workers.services import worker_ban, worker_unban


@admin.register(WorkerProfile)
class WorkerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "gold_answered", "gold_correct", "reputation", "updated_at"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "gold_answered", "gold_correct", "reputation", "updated_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    """Add a ban with the worker and a reason; lift it with the 'Lift selected bans' action. Nothing is deleted."""

    list_display = ["worker", "reason", "created_by", "created_at", "lifted_at", "lifted_by"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["worker__email", "reason"]
    list_select_related = ["worker", "created_by", "lifted_by"]
    raw_id_fields = ["worker"]
    fields = ["worker", "reason", "created_by", "created_at", "lifted_at", "lifted_by", "lift_reason"]
    actions = ["lift_bans"]

    def get_readonly_fields(self, request: HttpRequest, obj: Ban | None = None) -> list[str]:
        editable = {"worker", "reason"} if obj is None else set()
        return [f for f in self.fields if f not in editable]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Ban, form: object, change: bool) -> None:
        if change:
            return
        try:
            created = worker_ban(worker=obj.worker, reason=obj.reason, by=request.user)
        except WorkersError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        obj.pk = created.pk

    @admin.action(description="Lift selected bans")
    def lift_bans(self, request: HttpRequest, queryset: QuerySet[Ban]) -> None:
        for ban in queryset.filter(lifted_at__isnull=True).select_related("worker"):
            worker_unban(worker=ban.worker, reason=f"Lifted in the admin by {request.user}", by=request.user)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What workers were told (sent by the services); read-only."""

    list_display = ["worker", "kind", "title", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    search_fields = ["worker__email", "title", "key"]
    list_select_related = ["worker"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(NotificationSetting)
class NotificationSettingAdmin(admin.ModelAdmin):
    list_display = ["worker", "kind", "email"]
    search_fields = ["worker__email"]
    list_select_related = ["worker"]
