"""The worker's notifications (workers.notifications): newest first, and a button that marks them all read."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from marketplace.web.worker.views import worker_required
from workers.notifications import notification_list, notifications_mark_read

SHOWN = 50


@worker_required
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        notifications_mark_read(worker=request.user)
        return redirect("web:worker:notifications")
    shown = list(notification_list(worker=request.user)[:SHOWN])
    return render(request, "web/worker/notifications.html", {"notifications": shown})
