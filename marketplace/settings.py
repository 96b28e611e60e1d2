"""crowdmarket settings, read from the environment.

A newcomer needs nothing: with no variables set, the service runs on an embedded SQLite file with Celery tasks
executed in-process. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY and ALLOWED_HOSTS; a missing SECRET_KEY
outside DEBUG is a startup error, never a silent default.
"""

from datetime import timedelta
from functools import partial
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue
from redis.asyncio import Redis as AsyncRedis

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development).")
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_guid",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_api_key",  # its abstract key model (marketplace.accounts.ApiKey); its own table stays empty
    "health_check",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "marketplace.accounts",
    "payments",
    "workers",
    "qualification",
    "marketplace",
]

# Metrics first, so that their timing covers the whole stack; the request id next, so that every later log line has
# it; WhiteNoise right after the security headers, as its documentation says.
MIDDLEWARE = [
    *(["marketplace.observability.metrics.MetricsMiddleware"] if env.bool("METRICS_ENABLED", default=True) else []),
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "marketplace.api.parsers.HeadlessJSONMiddleware",  # allauth's JSON bodies held to the API parser's rule
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The pages' templates come first, so that they also restyle allauth's (allauth/layouts/base.html).
        "DIRS": [BASE_DIR / "marketplace" / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------
# PostgreSQL (psycopg 3) in production and in the test suite; an embedded SQLite file otherwise. SQLite opens
# every transaction with BEGIN IMMEDIATE and waits on a busy lock, so a few concurrent users do not hit
# "database is locked" on the first write of a read transaction.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test suite's database is a file too, as `make run`'s is, next to it (db.sqlite3-test): threads then each get
    # their own connection that waits on a busy lock (Django's in-memory test database shares one cache, which fails
    # at once instead), and a test run on another SQLite file (a test's own) never touches this run's.
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}-test"}
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # Django's, with a cheaper health check
        DATABASES["default"]["ENGINE"] = "marketplace.db.postgresql"
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side binding with prepared statements: the hot claim/submit statements are planned once per connection
    # (measured: about 15% more claim+submit cycles per second). Turn off behind PgBouncer in transaction mode.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 2})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, throttles and the Celery broker ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Short socket timeouts: the cache fails open (marketplace/cache.py), and a Redis that hangs must not hold a claim.
    _cache_timeouts = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
    CACHES = {"default": {"BACKEND": "marketplace.cache.RedisCache", "LOCATION": REDIS_URL, "OPTIONS": _cache_timeouts}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker, tasks run in-process and eagerly: the service still works end to end on one machine.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
# Longer than the longest task, or Redis redelivers a task that is still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_TASK_DEFAULT_QUEUE = "crowdmarket"
# Webhook deliveries wait on receivers: in their own queue (and worker, in production), they never hold up money.
# A worker started without -Q consumes both.
# A routing key each: left out, both default to "crowdmarket", and a broker that routes by key (AMQP) would copy a
# message routed to one queue into both.
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in ("crowdmarket", "webhooks")]
CELERY_TASK_ROUTES = {"marketplace.tasks.webhook_deliver_task": {"queue": "webhooks"}}
CELERY_BEAT_SCHEDULE = {
    "expire-overdue-assignments": {"task": "marketplace.tasks.assignment_expire_overdue_task", "schedule": 60.0},
    "expire-overdue-attempts": {"task": "qualification.tasks.attempt_expire_overdue_task", "schedule": 300.0},
    "payments-resume-stuck-payouts": {"task": "payments.tasks.payout_resume_stuck_task", "schedule": 15.0},
    "auto-approve-submitted-work": {"task": "marketplace.tasks.assignment_auto_approve_task", "schedule": 60.0},
    "expire-jobs-past-deadline": {"task": "marketplace.tasks.jobs_expire_due_task", "schedule": 60.0},
    "settle-finished-jobs": {"task": "marketplace.tasks.jobs_settle_task", "schedule": 3600.0},
    "fund-waiting-slots": {"task": "marketplace.tasks.jobs_slots_fund_waiting_task", "schedule": 300.0},
    "recompute-reputation": {"task": "marketplace.tasks.reputation_recompute_task", "schedule": 3600.0},
    "recompute-requester-standing": {"task": "marketplace.tasks.requester_standing_recompute_task", "schedule": 900.0},
    "requeue-lost-webhooks": {"task": "marketplace.tasks.webhook_requeue_due_task", "schedule": 10.0},
    "requeue-model-requests": {"task": "marketplace.tasks.model_requests_requeue_task", "schedule": 10.0},
    "resume-stuck-uploads": {"task": "marketplace.tasks.upload_resume_stuck_task", "schedule": 60.0},
    "resume-stuck-aggregations": {"task": "marketplace.tasks.aggregation_resume_stuck_task", "schedule": 60.0},
}

# --- Health: GET /health/ (django-health-check; `?format=json` for JSON) ------------------------------------------
# Database and cache always; the broker's Redis when there is one; a Celery worker ping only where workers are
# expected (a broker and no eager tasks): in eager mode no worker exists to answer it.
HEALTH_CHECK_CELERY = env.bool("HEALTH_CHECK_CELERY", default=bool(REDIS_URL) and not CELERY_TASK_ALWAYS_EAGER)
HEALTH_CHECKS: list = ["health_check.checks.Database", "health_check.checks.Cache"]
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    _broker = partial(AsyncRedis.from_url, CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
    HEALTH_CHECKS.append(("health_check.contrib.redis.Redis", {"client_factory": _broker}))
if HEALTH_CHECK_CELERY:
    HEALTH_CHECKS.append(("health_check.contrib.celery.Ping", {"timeout": timedelta(seconds=2)}))

# --- Auth: django-allauth (email sign-up/login), headless API with X-Session-Token ------------------------------
AUTH_USER_MODEL = "accounts.User"
# Sessions in the database with their user's id as a column: a session token and its user load in one query.
SESSION_ENGINE = "marketplace.accounts.sessions"
AUTHENTICATION_BACKENDS = [  # Django's and allauth's, with a cheaper per-request user lookup
    "marketplace.accounts.backends.ModelBackend",
    "marketplace.accounts.backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_SIGNUP_FORM_CLASS = "marketplace.accounts.forms.SignupRolesForm"
HEADLESS_ONLY = False
HEADLESS_TOKEN_STRATEGY = "marketplace.accounts.tokens.SessionTokenStrategy"  # one session load per request
HEADLESS_CLIENTS = ("app", "browser")
HEADLESS_FRONTEND_URLS: dict[str, str] = {}
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crowdmarket@localhost")
LOGIN_REDIRECT_URL = "/"

# --- REST API ----------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.api.authentication.SessionTokenAuthentication",
        "marketplace.api.authentication.ApiKeyAuthentication",
        "marketplace.api.authentication.BrowserSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.openapi.AutoSchema",  # adds the 400/401/403/404/429 answers
    "EXCEPTION_HANDLER": "marketplace.api.errors.exception_handler",
    # Bodies bounded in size and depth, and refused (400, naming the field) where PostgreSQL could not store them.
    "DEFAULT_PARSER_CLASSES": [
        "marketplace.api.parsers.JSONParser",
        "marketplace.api.parsers.FormParser",
        "marketplace.api.parsers.MultiPartParser",
    ],
    # Per-user rate limits on the work endpoints (DRF's ScopedRateThrottle, counted in the cache): 429 beyond them.
    "DEFAULT_THROTTLE_RATES": {
        "claim": env.str("THROTTLE_CLAIM", default="600/min"),
        "submit": env.str("THROTTLE_SUBMIT", default="600/min"),
        "attempt": env.str("THROTTLE_ATTEMPT", default="30/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "crowdmarket API",
    "DESCRIPTION": (
        "Crowdsourcing task marketplace. Authenticate by signing up or logging in at "
        "`/_allauth/app/v1/auth/signup` or `/_allauth/app/v1/auth/login`, then send the returned "
        "`meta.session_token` in the `X-Session-Token` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Serve Swagger UI from the installed package, not a CDN: the docs work offline.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "marketplace.models.jobs.JobStatus",
        "LanguageEnum": "django.conf.global_settings.LANGUAGES",
        "AssignmentStatusEnum": "marketplace.models.assignments.AssignmentStatus",
        "UploadStatusEnum": "marketplace.models.items.Upload.Status",
        "KindEnum": "marketplace.models.items.Upload.Kind",
        "TransactionKindEnum": "payments.models.TransactionKind",
        "PayoutStatusEnum": "payments.models.PayoutStatus",
        "WebhookEventEnum": "marketplace.models.webhooks.WebhookEvent",
        "WebhookSubscribableEventEnum": "marketplace.models.webhooks.SUBSCRIBABLE_EVENTS",
        "DisputeKindEnum": "marketplace.models.disputes.DisputeKind",
        "DisputeStatusEnum": "marketplace.models.disputes.DisputeStatus",
        "BlockSourceEnum": "marketplace.models.blocks.BlockSource",
        "DisputeDecisionEnum": "marketplace.models.disputes.DisputeDecision",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Marketplace rules ---------------------------------------------------------------------------------------------
# Uploads up to this size are ingested inside the request (the answer is 201 or a 400 listing the bad rows);
# larger ones are queued for a Celery task and polled at /api/v1/uploads/{id}/.
INGEST_SYNC_MAX_BYTES = env.int("INGEST_SYNC_MAX_BYTES", default=2 * 1024 * 1024)
INGEST_MAX_ERRORS = env.int("INGEST_MAX_ERRORS", default=20)
INGEST_BATCH_ROWS = env.int("INGEST_BATCH_ROWS", default=5000)
# A queued upload whose ingest died (worker killed or restarted) is run again by the sweeper, this many runs at most;
# then it fails with an error that says so.
INGEST_MAX_ATTEMPTS = env.int("INGEST_MAX_ATTEMPTS", default=3)
# Pricing: the platform's fee on each reward, charged to the requester on top (fixed on a job at launch).
PLATFORM_FEE_RATE = env.str("PLATFORM_FEE_RATE", default="0.20")
# A worker may appeal a rejection within this window; the escrow keeps their reward until it closes.
APPEAL_WINDOW = timedelta(days=env.int("APPEAL_WINDOW_DAYS", default=7))
# An appeal is upheld automatically (the rejection overturned, the work paid) when the other workers' answers back the
# worker on at least this share of the assignment's real items. An item backs them when at least
# APPEAL_AUTO_MIN_ANSWERS answers of other workers give it the worker's label with APPEAL_AUTO_CONFIDENCE (under the
# job's Dawid-Skene model); the worker's own answers never count (marketplace.services.appeals).
APPEAL_AUTO_AGREEMENT = env.float("APPEAL_AUTO_AGREEMENT", default=0.8)
if not 0 < APPEAL_AUTO_AGREEMENT <= 1:
    raise ImproperlyConfigured("APPEAL_AUTO_AGREEMENT must be a share in (0, 1], e.g. 0.8.")
APPEAL_AUTO_MIN_ANSWERS = env.int("APPEAL_AUTO_MIN_ANSWERS", default=2)
if APPEAL_AUTO_MIN_ANSWERS < 1:
    raise ImproperlyConfigured("APPEAL_AUTO_MIN_ANSWERS must be at least 1, e.g. 2.")
APPEAL_AUTO_CONFIDENCE = env.float("APPEAL_AUTO_CONFIDENCE", default=0.9)
if not 0.5 <= APPEAL_AUTO_CONFIDENCE < 1:
    raise ImproperlyConfigured("APPEAL_AUTO_CONFIDENCE must be a probability in [0.5, 1), e.g. 0.9.")
# Aggregate a job after every this many new (non-gold) answers, and always when it completes.
AGGREGATE_EVERY_ANSWERS = env.int("AGGREGATE_EVERY_ANSWERS", default=200)
# Webhooks: how long one delivery attempt may take in all (connect, send, the receiver's answer); whether receivers on
# loopback or private networks are allowed (development and tests only: in production it would let requesters probe
# the service's own network).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# `results.updated` carries the results (label, confidence, posterior) of at most this many items answered since the
# previous aggregation; the rest are at the event's results_url.
WEBHOOK_RESULTS_MAX_ITEMS = env.int("WEBHOOK_RESULTS_MAX_ITEMS", default=200)
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = "/media/"
# What workers see of a requester (rejections, time to review and to pay, appeals overturned) covers this many days.
REQUESTER_STANDING_DAYS = env.int("REQUESTER_STANDING_DAYS", default=90)
# Items' media: the largest file, and for a zip of them, the most files and the most bytes once unpacked.
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=20 * 1024 * 1024)
MEDIA_ZIP_MAX_FILES = env.int("MEDIA_ZIP_MAX_FILES", default=10_000)
MEDIA_ZIP_MAX_BYTES = env.int("MEDIA_ZIP_MAX_BYTES", default=2 * 1024 * 1024 * 1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "marketplace" / "web" / "static"]  # the pages' CSS, scripts, vendored assets
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# `collectstatic` writes every file under a content-hashed name, gzipped beside it, and WhiteNoise serves them from
# STATIC_ROOT (hashed names cached for a year): the admin and Swagger UI work behind gunicorn alone.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Items' media (images, audio, texts), content-addressed. S3-compatible object storage: install the `s3` extra,
    # set MEDIA_STORAGE_BACKEND=storages.backends.s3.S3Storage and django-storages' AWS_* settings (env below).
    "media": {
        "BACKEND": env.str("MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("MEDIA_STORAGE_OPTIONS", default={"location": str(Path(str(MEDIA_ROOT)) / "items")}),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", False) else None
SESSION_COOKIE_AGE = int(timedelta(days=14).total_seconds())

# --- Observability: request ids, logs, metrics, errors ---------------------------------------------------------------
# Each request gets an id (django-guid): a valid UUID from the client's or proxy's X-Request-ID is kept, anything else
# is replaced by a new one. It comes back in the X-Request-ID header and error bodies, is in every log line (also in
# Celery tasks the request enqueued: marketplace.observability.celery) and tags Sentry events.
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-ID", "VALIDATE_GUID": True}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "marketplace.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "marketplace.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="plain"),
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django_guid": {"level": "WARNING"}},  # it logs every request's id at INFO
}
# Prometheus metrics at /metrics (marketplace/observability/metrics.py). In production the scraper sends
# `Authorization: Bearer <METRICS_TOKEN>`; without a token set, /metrics is not served (open in DEBUG).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Optional error reporting: nothing is initialised, and nothing sent, unless SENTRY_DSN is set.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from marketplace.observability.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
