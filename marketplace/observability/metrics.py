"""Prometheus metrics (prometheus-client), served at /metrics.

- `crowdmarket_http_requests_total{route, method, status}` and `crowdmarket_http_request_duration_seconds{route,
  method}`: every request, labelled by its URL pattern (`api/v1/work/jobs/<int:job_id>/claim/`), never by its path.
- `crowdmarket_claims_total{outcome}` and `crowdmarket_submits_total{outcome}`: the work endpoints' results,
  `assigned` / `accepted` or the error code the client got (`no_work_available`, `throttled`, ...).
- `crowdmarket_celery_tasks_total{task, state}` and `crowdmarket_celery_task_failures_total{task}`: counted where
  the tasks run (marketplace.observability.celery).
- `crowdmarket_celery_queue_length{queue}` and `crowdmarket_celery_broker_up`: read from the broker at each scrape.

Under gunicorn every worker process counts for itself: set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same
for gunicorn and the Celery worker on that host) and /metrics adds up all of them (prometheus-client's multiprocess
mode; `gunicorn.conf.py` tells it when a worker exits).
"""

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "crowdmarket_http_requests",
    "HTTP requests answered, by URL pattern, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "crowdmarket_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it, by URL pattern and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CLAIMS = Counter("crowdmarket_claims", "Claims, by outcome: assigned, or the error code answered.", ["outcome"])
SUBMITS = Counter("crowdmarket_submits", "Submits, by outcome: accepted, or the error code answered.", ["outcome"])
TASKS = Counter("crowdmarket_celery_tasks", "Celery tasks finished, by task name and state.", ["task", "state"])
TASK_FAILURES = Counter("crowdmarket_celery_task_failures", "Celery tasks that raised, by task name.", ["task"])

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no URL pattern: a 404, or a static file WhiteNoise answered first


def _outcome(response: HttpResponse, success: str) -> str:
    if response.status_code < 400:
        return success
    code = getattr(response, "data", None)
    code = code.get("code") if isinstance(code, dict) else None
    return code if isinstance(code, str) and code.isidentifier() and len(code) <= 40 else str(response.status_code)


def _claimed(response: HttpResponse) -> None:
    CLAIMS.labels(_outcome(response, "assigned")).inc()


def _submitted(response: HttpResponse) -> None:
    SUBMITS.labels(_outcome(response, "accepted")).inc()


def _submitted_and_claimed(response: HttpResponse) -> None:
    _submitted(response)
    data = getattr(response, "data", None)
    if response.status_code < 400 and isinstance(data, dict):
        refused = data.get("next_error")
        CLAIMS.labels("assigned" if data.get("next") else str((refused or {}).get("code", "unknown"))).inc()


# The work endpoints, by URL name, and what their answers count.
WORK_COUNTERS: dict[str, Callable[[HttpResponse], None]] = {
    "work-claim": _claimed,
    "work-submit": _submitted,
    "work-submit-and-claim": _submitted_and_claimed,
}


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = match.route if match else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        LATENCY.labels(route, method).observe(elapsed)
        count = WORK_COUNTERS.get(match.url_name) if match and match.url_name else None
        if count is not None:
            count(response)
        return response


class CeleryQueueCollector(Collector):
    """The number of messages waiting in each Celery queue, read from the Redis broker at scrape time (kombu keeps a
    queue as a list under its name, and one more per priority step: `<name>\\x06\\x16<step>`)."""

    PRIORITY_STEPS = (0, 3, 6, 9)

    def __init__(self) -> None:
        self._client: redis.Redis | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
            return
        depth = GaugeMetricFamily(
            "crowdmarket_celery_queue_length", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        up = GaugeMetricFamily("crowdmarket_celery_broker_up", "1 when the broker answered the queue-length read.")
        try:
            for queue, length in self._lengths().items():
                depth.add_metric([queue], length)
            up.add_metric([], 1)
            yield depth
        except redis.RedisError as error:
            logger.warning("Could not read the Celery queue lengths from the broker: %s", error)
            up.add_metric([], 0)
        yield up

    def _lengths(self) -> dict[str, int]:
        from marketplace.celery import app  # the configured queues (the default one and any declared)

        if self._client is None:
            self._client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        queues = sorted(app.amqp.queues)
        with self._client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for step in self.PRIORITY_STEPS:
                    pipe.llen(f"{queue}\x06\x16{step}" if step else queue)
            sizes = pipe.execute()
        steps = len(self.PRIORITY_STEPS)
        return {queue: sum(sizes[i * steps : (i + 1) * steps]) for i, queue in enumerate(queues)}


_SCRAPE_TIME = CollectorRegistry(auto_describe=False)
_SCRAPE_TIME.register(CeleryQueueCollector())


def exposition() -> bytes:
    """Every metric, in Prometheus' text format: this process's (or all processes' in multiprocess mode), then
    the ones read at scrape time."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_SCRAPE_TIME)


def scrape_allowed(request: HttpRequest) -> bool | None:
    """True with the right bearer token (or in DEBUG without one set); False with a wrong or missing one; None
    when production has no token: /metrics is then not served at all."""
    token = settings.METRICS_TOKEN
    if not token:
        return True if settings.DEBUG else None
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return hmac.compare_digest(sent.encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = scrape_allowed(request)
    if allowed is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    if not allowed:
        return HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
