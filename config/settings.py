"""Breachdesk settings, read from the environment (see `.env.example`).

Every variable has a safe default for production: DEBUG is off unless set, and then a
SECRET_KEY is required and cookies, HSTS and the SSL redirect are on. `make run` and
`make test` set DEBUG=true for a developer's machine.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "import_export",
    "django_q",
    "customers",
    "incidents",
    "campaigns",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the task cluster share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a task cluster started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

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
_email = env.email_url("EMAIL_URL", default="filemail://")
if _email["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    _email["EMAIL_BACKEND"] = "config.mail.EmlFileBackend"
    _email.pop("EMAIL_FILE_PATH", None)
vars().update(_email)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Breachdesk <breachdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

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
    "ack_failures": True,
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
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ImproperlyConfigured("Q_TIMEOUT must be below Q_RETRY.")

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

# --- Production safety ----------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
