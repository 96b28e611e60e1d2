"""The staff console: the disputes queue with its evidence and one-click decisions, flagged gold across jobs,
blocks and bans, and the platform's figures with a plot. Staff only; the decisions go through
`services.disputes.dispute_resolve`, the API's service."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from marketplace.models import DisputeDecision
from marketplace.selectors_staff import (
    ban_list,
    block_list,
    dispute_evidence,
    flagged_gold_list,
    open_dispute_list,
    platform_figures,
    recent_decision_list,
)
from marketplace.services.disputes import dispute_resolve
from marketplace.web.access import role_required
from marketplace.web.actions import run_service
from marketplace.web.charts import bar_chart
from payments.money import format_amount
from workers.services import worker_ban, worker_unban

staff_required = role_required(lambda user: user.is_staff, "This page is for staff.")


class BanForm(forms.Form):
    worker = forms.IntegerField(min_value=1, label="Worker #")
    reason = forms.CharField(max_length=500, label="Reason")
    action = forms.ChoiceField(choices=[("ban", "Ban"), ("unban", "Lift the ban")])


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=DisputeDecision.choices)
    note = forms.CharField(max_length=5000, label="Note")


@staff_required
def disputes(request: HttpRequest) -> HttpResponse:
    queue = list(open_dispute_list())
    evidence = dispute_evidence(disputes=queue)
    rows = [(dispute, evidence.get(dispute.pk, [])) for dispute in queue]
    return render(request, "web/staff/disputes.html", {"rows": rows, "recent": recent_decision_list()})


@staff_required
@require_POST
def dispute_decide(request: HttpRequest, dispute_id: int) -> HttpResponse:
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Dispute #{dispute_id}: choose a decision and write a note.")
        return redirect("web:staff:disputes")
    run_service(
        request,
        lambda: dispute_resolve(dispute_id=dispute_id, by=request.user, **form.cleaned_data),
        success=lambda dispute: f"Dispute #{dispute.pk}: {dispute.get_decision_display()}.",
    )
    return redirect("web:staff:disputes")


@staff_required
def gold(request: HttpRequest) -> HttpResponse:
    return render(request, "web/staff/gold.html", {"items": flagged_gold_list()})


@staff_required
def blocks(request: HttpRequest) -> HttpResponse:
    """Blocks (one requester's jobs) and bans (the whole platform); staff ban or lift a ban with a reason
    (workers.services, as the API's ban endpoints)."""
    form = BanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        worker = get_user_model().objects.filter(pk=data["worker"], is_worker=True).first()
        if worker is None:
            messages.error(request, f"No worker #{data['worker']}.")
        else:
            service = worker_ban if data["action"] == "ban" else worker_unban
            run_service(
                request,
                lambda: service(worker=worker, reason=data["reason"], by=request.user),
                success=lambda ban: f"Worker #{worker.pk}: {'ban lifted' if ban.lifted_at else 'banned'}.",
            )
        return redirect("web:staff:blocks")
    context = {"blocks": block_list(), "bans": ban_list(), "form": form}
    return render(request, "web/staff/blocks.html", context, status=400 if form.errors else 200)


@staff_required
def figures(request: HttpRequest) -> HttpResponse:
    data = platform_figures()
    context = {
        "figures": data,
        "escrow": [format_amount(total, currency) for currency, total in data["escrow"]],
        "chart": bar_chart("Answers per hour, last 24 hours", data["answers_per_hour"]),
    }
    return render(request, "web/staff/figures.html", context)
