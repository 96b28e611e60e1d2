"""Admin of the qualification app.

Qualifications are defined through the API (where every answer key is validated against the label schema, with
the question pool in the same request); here an admin may rename, describe, open/close or share one, and reads
its questions with their keys. Attempts and grants are read-only: grants and revocations go through the
services, which keep one live grant per worker and the history (who and why) on each row.
"""

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from qualification.models import Attempt, Grant, Qualification, Question
from qualification.services.grants import grant_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    can_delete = False  # attempts refer to questions by id
    fields = ["id", "payload", "answer_key"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "is_active", "is_public", "pass_mark", "questions_per_attempt", "created_at"]
    list_filter = ["is_active", "is_public", "created_at"]
    search_fields = ["name", "description", "owner__email"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    fields = [
        *("name", "description", "is_active", "is_public", "owner", "label_schema", "pass_mark"),
        *("questions_per_attempt", "time_limit", "retake_cooldown", "max_attempts", "valid_for", "created_at"),
    ]
    # The test's rules stay as workers were shown them; the schema must keep fitting the stored answer keys.
    readonly_fields = [
        *("owner", "label_schema", "pass_mark", "questions_per_attempt", "time_limit", "retake_cooldown"),
        *("max_attempts", "valid_for", "created_at"),
    ]
    inlines = [QuestionInline]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["id", "qualification", "worker", "status", "score", "passed", "started_at", "graded_at"]
    list_filter = ["status", "passed", "started_at"]
    search_fields = ["worker__email", "qualification__name", "=qualification__id"]
    list_select_related = ["qualification", "worker"]
    date_hierarchy = "started_at"


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", "Expired"), ("no", "Not expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Grant]) -> QuerySet[Grant]:
        expired = Q(expires_at__lte=timezone.now())
        if self.value() == "yes":
            return queryset.filter(expired)
        if self.value() == "no":
            return queryset.exclude(expired)
        return queryset


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = [
        *("id", "qualification", "worker", "score", "source", "reason", "granted_by", "granted_at"),
        *("expires_at", "revoked_at", "revoked_by", "revoke_reason"),
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "source", ExpiredFilter]
    search_fields = ["worker__email", "qualification__name", "=qualification__id", "reason", "revoke_reason"]
    list_select_related = ["qualification", "worker", "granted_by", "revoked_by"]
    actions = ["revoke_selected"]

    @admin.action(description="Revoke selected grants")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Grant]) -> None:
        reason = f"revoked in the admin by {request.user.email}"  # type: ignore[union-attr]
        revoked = 0
        for grant in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            grant_revoke(grant=grant, reason=reason, by=request.user)  # type: ignore[arg-type]
            revoked += 1
        self.message_user(request, f"Revoked {revoked} grant(s).", messages.SUCCESS)
