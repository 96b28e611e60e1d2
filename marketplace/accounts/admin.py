from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from marketplace.accounts.models import ApiKey, Membership, Organisation, Session, User
from marketplace.accounts.services import api_key_revoke


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    # Sessions have no admin page of their own: a session's key is its token (any page listing them would show it).
    actions = ["end_sessions"]
    ordering = ["email"]
    list_display = ["email", "is_requester", "is_worker", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_requester", "is_worker", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["last_login", "date_joined", "signed_in_sessions"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Roles", {"fields": ("is_requester", "is_worker", "is_staff", "is_superuser", "is_active")}),
        ("Permissions", {"classes": ("collapse",), "fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined", "signed_in_sessions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(description="signed-in sessions")
    def signed_in_sessions(self, user: User) -> int:
        return Session.objects.filter(user=user, expire_date__gt=timezone.now()).count()

    @admin.action(description="Sign out of every session (browsers and scripts)")
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended, _ = Session.objects.filter(user__in=queryset).delete()
        self.message_user(request, f"Ended {ended} session(s).")


# The library's own key model is unused here (keys are `ApiKey`, with a user and scopes): no page for it.
admin.site.unregister(APIKey)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are seen and revoked here, never created (a key is shown once, to its requester, by the API)."""

    list_display = ["prefix", "name", "user", "scopes", "created", "last_used_at", "expiry_date", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["prefix", "name", "user__email"]
    fields = ["prefix", "name", "user", "scopes", "created", "last_used_at", "expiry_date", "revoked", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.filter(revoked=False).select_related("user"):
            api_key_revoke(user=api_key.user, prefix=api_key.prefix)
        self.message_user(request, "Revoked.")


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "organisation"
    extra = 0
    raw_id_fields = ["user", "added_by"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "created_by", "created_at"]
    search_fields = ["name"]
    raw_id_fields = ["account", "created_by"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["organisation", "user", "role", "added_at"]
    list_filter = ["role"]
    raw_id_fields = ["organisation", "user", "added_by"]
