"""Breachdesk settings, read from the environment (see `.env.example`).

Every variable has a safe default for production: DEBUG is off unless set, and then a
SECRET_KEY is required and cookies, HSTS and the SSL redirect are on. `make run` and
`make test` set DEBUG=true for a developer's machine.
"""

import hashlib
import hmac
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Everything this instance writes locally (SQLite files, uploads, mail, exports) lives
# here; CI gives the PostgreSQL and SQLite runs one each so they can run side by side.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-never-used-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# Shown on the login page and in every page header, so nobody mistakes the demo for
# the production instance during an incident.
INSTANCE_NAME = env.str("INSTANCE_NAME", default="local demo" if DEBUG else "production")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin_apps.BreachdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "django.contrib.staticfiles",
    "import_export",
    "django_q",
    "axes",
    "customers",
    "incidents",
    "campaigns",
    "notifications",
    "config.readiness",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Repeated failed sign-ins lock the client out (django-axes, config.login_lockout):
# LOGIN_FAILURE_LIMIT failures of one username, or LOGIN_CLIENT_FAILURE_LIMIT of any
# usernames (password spraying), from one client. Nothing counts per username alone, so no
# one can lock a colleague out from elsewhere. A successful sign-in clears that username's
# count from that client; the lock lifts after LOGIN_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "config.login_lockout.LockoutHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_CLIENT_FAILURE_LIMIT = env.int("LOGIN_CLIENT_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False
# The client is the address the outermost of this many trusted proxies saw (the N-th
# from the right of X-Forwarded-For); 0 reads REMOTE_ADDR. Defaults to 1 behind a proxy.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if BEHIND_TLS_PROXY else 0)
AXES_CLIENT_IP_CALLABLE = "config.login_lockout.client_ip"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
LOGIN_URL = "admin:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.instance",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite under var/ lets a newcomer run the demo with nothing installed; production runs
# PostgreSQL through psycopg 3 (postgres://user:password@host:5432/name).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'breachdesk.sqlite3'}"),
}
# Task clusters run long; reusing connections is what makes django-q2's ORM broker fast.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A worker that loses its connection after mailing a batch reconnects for up to this many
# seconds to record it, rather than leave the batch to be mailed again.
DATABASE_RECONNECT_SECONDS = env.int("DATABASE_RECONNECT_SECONDS", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the task cluster share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a task cluster started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Production runs the web and task processes as a runtime role that owns no table (it can
# neither alter a trigger nor TRUNCATE, nor UPDATE/DELETE the timeline), and the migrations
# as the owner: DATABASE_MIGRATE_URL names the same database with the owner's credentials,
# and `manage.py migrate` alone uses it. After each migrate, DATABASE_RUNTIME_ROLE (by
# default the user of DATABASE_URL, when DATABASE_MIGRATE_URL is set) is given its grants
# if it exists; `manage.py db_runtime_role` creates it. Unset: one role does everything.
DATABASE_MIGRATE_URL = env.str("DATABASE_MIGRATE_URL", default="")
DATABASE_MIGRATE_CREDENTIALS: dict[str, object] = {}
if DATABASE_MIGRATE_URL:
    _owner = environ.Env.db_url_config(DATABASE_MIGRATE_URL)
    if (_owner["ENGINE"], _owner["NAME"]) != (
        DATABASES["default"]["ENGINE"],
        DATABASES["default"]["NAME"],
    ):
        raise ImproperlyConfigured(
            "DATABASE_MIGRATE_URL must name the same database as DATABASE_URL."
        )
    DATABASE_MIGRATE_CREDENTIALS = {
        key: _owner[key] for key in ("USER", "PASSWORD", "HOST", "PORT") if key in _owner
    }
DATABASE_RUNTIME_ROLE = env.str(
    "DATABASE_RUNTIME_ROLE",
    default=str(DATABASES["default"].get("USER") or "") if DATABASE_MIGRATE_URL else "",
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

# --- Email ----------------------------------------------------------------------------
# EMAIL_URL=smtp+tls://user:password@smtp.example.com:587 in production. By default every
# message is written as an .eml file under var/mail/ so the demo shows what was sent.
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
# EMAIL_URL=anymail+postmark:// (or +mailgun, +brevo, +amazon-ses, +sendgrid, +sparkpost,
# +mailjet, +resend; +test in tests) sends through the company's email provider with
# django-anymail; the ANYMAIL_* variables below hold its keys and webhook secrets.
ANYMAIL_PROVIDERS = (
    "amazon_ses",
    "brevo",
    "mailgun",
    "mailjet",
    "postmark",
    "resend",
    "sendgrid",
    "sparkpost",
    "test",
)
for _esp in ANYMAIL_PROVIDERS:
    environ.Env.EMAIL_SCHEMES[f"anymail+{_esp.replace('_', '-')}"] = (
        f"anymail.backends.{_esp}.EmailBackend"
    )
_email = env.email_url("EMAIL_URL", default="filemail://")
if _email["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    _email["EMAIL_BACKEND"] = "config.mail.EmlFileBackend"
    _email.pop("EMAIL_FILE_PATH", None)
vars().update(_email)
# The evidence pack is signed (PAdES) with this PKCS#12 key and certificate when set.
EVIDENCE_SIGNING_P12 = env.str("EVIDENCE_SIGNING_P12", default="")
EVIDENCE_SIGNING_P12_PASSWORD = env.str("EVIDENCE_SIGNING_P12_PASSWORD", default="")
# Where customers reach Breachdesk's public pages (the unsubscribe link of campaign mail).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Breachdesk <breachdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# The provider's keys, and the webhooks' credentials: ANYMAIL_WEBHOOK_SECRET is the
# "user:password" the provider is given in its webhook URLs (basic auth); Mailgun also
# signs each event with MAILGUN_WEBHOOK_SIGNING_KEY. A webhook whose provider has no
# credentials configured refuses every request.
ANYMAIL = {
    key: value
    for key, value in {
        "WEBHOOK_SECRET": env.list("ANYMAIL_WEBHOOK_SECRET", default=[]),
        "POSTMARK_SERVER_TOKEN": env.str("POSTMARK_SERVER_TOKEN", default=""),
        "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY", default=""),
        "MAILGUN_SENDER_DOMAIN": env.str("MAILGUN_SENDER_DOMAIN", default=""),
        "MAILGUN_WEBHOOK_SIGNING_KEY": env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
        "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
    }.items()
    if value
}
# Stored provider events applied per batch by the task cluster. A message whose events fall
# in several batches is written once per batch: at 100,000 events for 50,000 people, one
# batch applied in 1.8x the raw UPDATE's time on a quiet machine, batches of 50,000 in 2.3-2.5x
# on a loaded one (where one batch measured 1.6x).
DELIVERY_EVENTS_BATCH_SIZE = env.int("DELIVERY_EVENTS_BATCH_SIZE", default=100000)

# --- Task queue -----------------------------------------------------------------------
# django-q2 keeps tasks in the database (no extra service) unless REDIS_URL names a Redis
# broker. A task that outlives `timeout` is killed; `retry` must be longer, or a task
# still running would be handed to a second worker. Payloads are signed with SECRET_KEY.
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="breachdesk"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_RETRY", default=720),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    # Failed tasks are not acknowledged, so the broker hands them out again after
    # `retry` seconds, at most `max_attempts` times: our tasks are idempotent.
    "save_limit": 1000,
    "catch_up": False,
    "bulk": 10,
    "poll": 0.5,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# Failed tasks (their arguments and errors) are purged daily after this many days.
FAILED_TASK_RETENTION_DAYS = env.int("FAILED_TASK_RETENTION_DAYS", default=14)
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ImproperlyConfigured("Q_TIMEOUT must be below Q_RETRY.")
# Work running (an import, an export, an evidence pack) or sending nothing (a wave of
# notices, a campaign) for longer than this is stalled: the hourly sweep marks it failed or
# hands its batches out again. Longer than every retry the cluster would still make.
STALLED_WORK_MINUTES = env.int("STALLED_WORK_MINUTES", default=60)
if Q_CLUSTER["retry"] * Q_CLUSTER["max_attempts"] >= STALLED_WORK_MINUTES * 60:
    raise ImproperlyConfigured("STALLED_WORK_MINUTES must exceed Q_RETRY x Q_MAX_ATTEMPTS.")

# --- Customers ------------------------------------------------------------------------
# Admin uploads over the size limit are refused with a message; files over the preview
# limit skip the interactive preview and run as a background job with a progress bar.
CUSTOMERS_IMPORT_MAX_UPLOAD_MB = env.int("CUSTOMERS_IMPORT_MAX_UPLOAD_MB", default=500)
CUSTOMERS_IMPORT_PREVIEW_MAX_KB = env.int("CUSTOMERS_IMPORT_PREVIEW_MAX_KB", default=512)
CUSTOMERS_IMPORT_BATCH_ROWS = env.int("CUSTOMERS_IMPORT_BATCH_ROWS", default=25000)
# An XLSX is a zip: refuse one that would expand past this size or this ratio (zip bomb).
CUSTOMERS_IMPORT_XLSX_MAX_UNCOMPRESSED_MB = env.int(
    "CUSTOMERS_IMPORT_XLSX_MAX_UNCOMPRESSED_MB", default=1024
)
CUSTOMERS_IMPORT_XLSX_MAX_RATIO = env.int("CUSTOMERS_IMPORT_XLSX_MAX_RATIO", default=100)
# An uploaded file holds everyone in it: it is kept this many days after its import ended
# (to run a failed one again), then deleted with the values quoted in its error report.
CUSTOMERS_IMPORT_FILE_RETENTION_DAYS = env.int("CUSTOMERS_IMPORT_FILE_RETENTION_DAYS", default=30)
# A background export holds everyone in it, contact data masked or not: its file is
# deleted this many days after it was built (the daily housekeeping).
CUSTOMERS_EXPORT_FILE_RETENTION_DAYS = env.int("CUSTOMERS_EXPORT_FILE_RETENTION_DAYS", default=1)

# --- Incidents -----------------------------------------------------------------------
# The company profile: with where the affected customers live, it decides which breach
# notification regimes (incidents.Regime, edited in the admin) an incident owes.
COMPANY_EU_ESTABLISHMENT = env.bool("COMPANY_EU_ESTABLISHMENT", default=True)
COMPANY_UK_ESTABLISHMENT = env.bool("COMPANY_UK_ESTABLISHMENT", default=False)
COMPANY_NIS2_ENTITY = env.bool("COMPANY_NIS2_ENTITY", default=False)
COMPANY_HIPAA_COVERED = env.bool("COMPANY_HIPAA_COVERED", default=False)
COMPANY_SEC_REGISTRANT = env.bool("COMPANY_SEC_REGISTRANT", default=False)
# The zone people read times in on the incident room (UTC stays beside it, and in storage).
COMPANY_TIME_ZONE = env.str("COMPANY_TIME_ZONE", default="Europe/Berlin")
# Sector regimes of the jurisdiction matrix (incidents.regime_data).
COMPANY_NYDFS_COVERED = env.bool("COMPANY_NYDFS_COVERED", default=False)
COMPANY_FTC_SAFEGUARDS = env.bool("COMPANY_FTC_SAFEGUARDS", default=False)
COMPANY_BROKER_DEALER = env.bool("COMPANY_BROKER_DEALER", default=False)
COMPANY_US_BANK = env.bool("COMPANY_US_BANK", default=False)
COMPANY_DORA_ENTITY = env.bool("COMPANY_DORA_ENTITY", default=False)
COMPANY_TELECOM_PROVIDER = env.bool("COMPANY_TELECOM_PROVIDER", default=False)

# --- Campaigns ------------------------------------------------------------------------
# Frequency cap: at most N promotional messages per customer in any D days.
CAMPAIGNS_FREQUENCY_CAP_MESSAGES = env.int("CAMPAIGNS_FREQUENCY_CAP_MESSAGES", default=3)
CAMPAIGNS_FREQUENCY_CAP_DAYS = env.int("CAMPAIGNS_FREQUENCY_CAP_DAYS", default=7)
# Pause campaigns whose audience overlaps an incident's scope as soon as the scope is set.
CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = env.bool("CAMPAIGNS_AUTO_PAUSE_ON_SCOPE", default=True)
# Days after the breach notice before the CMO may resume mailing the people it reached.
CAMPAIGNS_QUIET_PERIOD_DAYS = env.int("CAMPAIGNS_QUIET_PERIOD_DAYS", default=14)
CAMPAIGNS_BATCH_SIZE = env.int("CAMPAIGNS_BATCH_SIZE", default=500)
# Batches of one campaign worked on at once (one chain of tasks each).
CAMPAIGNS_PARALLEL_BATCHES = env.int("CAMPAIGNS_PARALLEL_BATCHES", default=2)
# Seconds a worker waits between its batches, to spread load on the mail relay.
CAMPAIGNS_BATCH_PAUSE_SECONDS = env.float("CAMPAIGNS_BATCH_PAUSE_SECONDS", default=0.0)
# A claimed batch not sent within this many seconds is claimed again by another worker. It
# must be below Q_RETRY, when django-q hands a dead worker's task to another one.
CAMPAIGNS_LEASE_SECONDS = env.int("CAMPAIGNS_LEASE_SECONDS", default=300)
# A promotional message the server keeps refusing "for now" is given up after this many tries.
CAMPAIGNS_MAX_ATTEMPTS = env.int("CAMPAIGNS_MAX_ATTEMPTS", default=3)
if Q_CLUSTER["retry"] <= CAMPAIGNS_LEASE_SECONDS:
    raise ImproperlyConfigured("CAMPAIGNS_LEASE_SECONDS must be below Q_RETRY.")

# --- Breach messages ------------------------------------------------------------------
# People with no approved version in their own language get this one. The review page
# warns when a message reads harder than the minimum reading ease (Flesch scale adapted
# to the language, 0-100, higher is easier; 60 is plain language).
BREACH_MESSAGE_FALLBACK_LANGUAGE = env.str("BREACH_MESSAGE_FALLBACK_LANGUAGE", default="en")
BREACH_MESSAGE_MIN_READING_EASE = env.int("BREACH_MESSAGE_MIN_READING_EASE", default=50)

# --- Delivery -------------------------------------------------------------------------
# Breach messages are claimed in batches (one task and one SMTP connection each); a claim
# not finished within the lease is taken over by another worker. It must be below Q_RETRY.
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=500)
DELIVERY_PARALLEL_BATCHES = env.int("DELIVERY_PARALLEL_BATCHES", default=4)
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=300)
# Shared by every worker through the database, to keep the sending domain's reputation.
DELIVERY_RATE_PER_MINUTE = env.int("DELIVERY_RATE_PER_MINUTE", default=6000)
# Temporary failures are retried after BACKOFF * 2**attempt seconds, MAX_ATTEMPTS times.
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=5)
DELIVERY_BACKOFF_SECONDS = env.int("DELIVERY_BACKOFF_SECONDS", default=30)
# Circuit breaker: pause the wave when failures and bounces over the last WINDOW minutes
# exceed RATE (0-1) of at least MIN_SAMPLE messages.
DELIVERY_BREAKER_WINDOW_MINUTES = env.int("DELIVERY_BREAKER_WINDOW_MINUTES", default=15)
DELIVERY_BREAKER_RATE = env.float("DELIVERY_BREAKER_RATE", default=0.1)
DELIVERY_BREAKER_MIN_SAMPLE = env.int("DELIVERY_BREAKER_MIN_SAMPLE", default=100)
# Follow-up reminders (never breach notices) skip people with this many messages in DAYS.
DELIVERY_FOLLOW_UP_CAP_MESSAGES = env.int("DELIVERY_FOLLOW_UP_CAP_MESSAGES", default=3)
DELIVERY_FOLLOW_UP_CAP_DAYS = env.int("DELIVERY_FOLLOW_UP_CAP_DAYS", default=7)
# The identity system tells Breachdesk of password resets (ids only) on a webhook signed
# with this secret (HMAC-SHA256 over "timestamp.body"); none set: the webhook refuses all.
RECOVERY_IDENTITY_WEBHOOK_SECRET = env.str("RECOVERY_IDENTITY_WEBHOOK_SECRET", default="")
# Seconds a signed request stays acceptable: an older one is a replay.
RECOVERY_IDENTITY_WEBHOOK_MAX_AGE = env.int("RECOVERY_IDENTITY_WEBHOOK_MAX_AGE", default=300)
# The source name under which the CRM imports carry the identity system's ids.
RECOVERY_IDENTITY_SOURCE = env.str("RECOVERY_IDENTITY_SOURCE", default="identity")
# Where a breach message's personal password reset link points (a signed token is added).
DELIVERY_RESET_URL = env.str("DELIVERY_RESET_URL", default="https://example.com/reset")
if Q_CLUSTER["retry"] <= DELIVERY_LEASE_SECONDS:
    raise ImproperlyConfigured("DELIVERY_LEASE_SECONDS must be below Q_RETRY.")

# --- Drills ---------------------------------------------------------------------------
# A drill incident runs the whole journey, but its breach messages go only to these
# internal addresses (comma-separated); with none set, a drill sends nothing at all.
DRILL_RECIPIENTS = env.list("DRILL_RECIPIENTS", default=[])

# --- Production safety ----------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
# A signed-in session ends after SESSION_IDLE_MINUTES without a request and, whatever
# happens, SESSION_MAX_HOURS after sign-in.
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_MINUTES", default=30) * 60
SESSION_COOKIE_AGE = env.int("SESSION_MAX_HOURS", default=8) * 3600
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Trust -----------------------------------------------------------------------------
# Server errors are mailed to ADMINS ("Name <address>" comma-separated) when DEBUG is off,
# through a handler that masks customers' emails and phones and never attaches the HTML
# report (it holds every frame's local variables).
ADMINS = [parseaddr(admin) for admin in env.list("ADMINS", default=[])]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "config.logging.PiiMaskingAdminEmailHandler",
            "include_html": False,
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replaces Django's own "django" logger, whose mail_admins handler sends unmasked
        # text.
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        # WeasyPrint reports every typesetting step at INFO; only its warnings matter here.
        "weasyprint.progress": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Readiness ------------------------------------------------------------------------
# Contact data not seen in any CRM import for this many months counts as stale.
READINESS_CONTACT_STALE_MONTHS = env.int("READINESS_CONTACT_STALE_MONTHS", default=12)
# An approved template version is due for its legal re-review this many days after approval.
READINESS_REVIEW_AFTER_DAYS = env.int("READINESS_REVIEW_AFTER_DAYS", default=365)
# The company is out of practice when its last drill is older than this many days.
READINESS_DRILL_MAX_AGE_DAYS = env.int("READINESS_DRILL_MAX_AGE_DAYS", default=180)
# How often the task cluster recounts the readiness page's customer figures, in minutes:
# the page says how old they are.
READINESS_RECOUNT_MINUTES = env.int("READINESS_RECOUNT_MINUTES", default=10)

# Content Security Policy (django-csp): pages load scripts, styles and images from this
# site only. An HTML message preview (a srcdoc frame, which inherits this policy) cannot
# fetch a remote image or stylesheet in the reviewer's browser: no tracking pixel, no
# request to whoever wrote the template.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Stored files (uploads, letters, manifests, evidence packs, exports) are readable by the
# application's own user only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Larger forensic lists, bounce reports and code files are refused unread (bounce reports
# and code files are parsed whole; a forensic list is written row by row as it is read).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_MB", default=50) * 1_000_000

# --- Timeline tamper evidence ---------------------------------------------------------
# Every incident's timeline is a hash chain keyed (HMAC-SHA256) with this secret, which the
# database never holds: whoever can write the tables without it cannot re-hash an edited
# chain into one that verifies. Unset, it is derived from SECRET_KEY; set it on its own in
# production, so that SECRET_KEY can be rotated without every chain failing to verify.
TIMELINE_HMAC_KEY = (
    env.str("TIMELINE_HMAC_KEY", default="")
    or hmac.new(SECRET_KEY.encode(), b"breachdesk.timeline", hashlib.sha256).hexdigest()
)
# Each chain's head is written here (one signed line per incident whose head moved, hourly
# by the task cluster and at every evidence pack), outside the database, so that a deleted
# tail or a rewritten chain shows against it. Point it at storage the database's
# administrators cannot rewrite (append-only, another machine, WORM).
TIMELINE_CHECKPOINT_DIR = env.path(
    "TIMELINE_CHECKPOINT_DIR", default=str(VAR_DIR / "timeline-checkpoints")
)
# An RFC 3161 Time Stamping Authority: when set, each checkpoint line also carries its
# token (the TSA's signed time over the line's digest), so that whoever holds the timeline
# key still cannot backdate one. Empty: no timestamps. TIMELINE_TSA_CERT is the PEM file
# of the TSA's certificate chain (its root at least) that `verify_timeline` trusts.
TIMELINE_TSA_URL = env.str("TIMELINE_TSA_URL", default="")
TIMELINE_TSA_CERT = env.str("TIMELINE_TSA_CERT", default="")
# From this many people on, a scope's and a wave's counts are kept (changed with the scope,
# counted again by the task cluster, shown with their time) instead of counted per page.
KEPT_FIGURES_FROM = env.int("KEPT_FIGURES_FROM", default=50_000)
