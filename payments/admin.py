"""Admin for the ledger: everything is read-only. Money moves only through the services (corrections are reversing
transactions, `payments.services.ledger.transaction_reverse`); the one action re-queues stuck payouts."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from payments.models import Account, Payout, PayoutStatus, Posting, SandboxOperation, Transaction
from payments.tasks import payout_send_task


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "amount", "currency"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "owner", "reference_type", "reference_id", "currency", "balance", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["owner__email", "=reference_id"]
    list_select_related = ["owner"]


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "description", "reference_type", "reference_id", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["idempotency_key", "description", "=reference_id"]
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["id", "transaction", "account", "amount", "currency"]
    list_filter = ["currency", "account__kind"]
    search_fields = ["account__owner__email", "transaction__idempotency_key"]
    list_select_related = ["transaction", "account"]
    show_full_result_count = False  # postings grow without bound: skip the COUNT(*) per page


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["id", "worker", "amount", "currency", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["worker__email", "idempotency_key", "provider_reference"]
    list_select_related = ["worker"]
    actions = ["send_again"]

    @admin.action(description="Send selected requested or sending payouts again (same provider key)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        unfinished = list(queryset.filter(status__in=[PayoutStatus.REQUESTED, PayoutStatus.SENDING]))
        for payout in unfinished:
            # resume: a payout stuck in `sending` is sent again at once; the provider key keeps it single.
            payout_send_task.delay(payout.pk, resume=True)
        self.message_user(request, f"{len(unfinished)} payout(s) queued.", messages.SUCCESS)


@admin.register(SandboxOperation)
class SandboxOperationAdmin(ReadOnlyAdmin):
    """The bundled sandbox provider's memory of idempotency keys (a real provider keeps this on its side)."""

    list_display = ["id", "operation", "idempotency_key", "ok", "reference", "error", "created_at"]
    list_filter = ["operation", "ok"]
    search_fields = ["idempotency_key", "reference"]
