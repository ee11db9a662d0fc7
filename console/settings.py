"""Settings of the llmopt console, read from the environment (django-environ).

Every setting has a default that runs on one machine with no services: SQLite for
Django's own tables and for the llmopt store, under ``var/``. See the README for the
variables. A bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from console.broker import EMBEDDED_BROKER_URL, embedded_transport_options

PACKAGE_DIR = Path(__file__).resolve().parent
# Run from a checkout, the repository root: manage.py, templates/, static/, .env and var/.
# Installed from the llmopt-console wheel, which carries templates/ and static/ in the
# package (console/site/), the working directory holds .env and var/.
_CHECKOUT = PACKAGE_DIR.parent
_IN_CHECKOUT = (_CHECKOUT / "manage.py").is_file()
BASE_DIR = _CHECKOUT if _IN_CHECKOUT else Path.cwd()
SITE_DIR = _CHECKOUT if _IN_CHECKOUT else PACKAGE_DIR / "site"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")


def _var_dir() -> Path:
    return _private_dir(Path(env.str("LLMOPT_VAR_DIR", default=str(BASE_DIR / "var"))))


# Secrets at rest: what the console creates under LLMOPT_VAR_DIR holds API keys, password
# hashes, sessions and the signing key, so folders are created 0700 and files 0600
# (SQLite gives its -wal, -shm and -journal files the mode of their database).
def _private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the folder {path}: {exc.strerror}") from exc
    return path


def _private_database(database: dict[str, Any]) -> dict[str, Any]:
    """Create a SQLite database file owner-only before Django opens (and creates) it."""
    name = str(database.get("NAME", ""))
    sqlite = database.get("ENGINE") == "django.db.backends.sqlite3"
    if sqlite and name not in ("", ":memory:") and not name.startswith("file:"):
        try:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise ValueError(f"cannot create the database {name}: {exc.strerror}") from exc
    return database


def _bool(name: str, *, default: bool) -> bool:
    """A yes/no variable; django-environ reads any unknown word as false, which hides typos."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def _positive_int(name: str, *, default: int) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return value


def _whole_number(name: str, *, default: int) -> int:
    raw = env.str(name, default=str(default)).strip()
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number (0 or more), not {raw!r}")
    return int(raw)


def _secret_key(var_dir: Path) -> str:
    """The configured key, or one generated once and kept in var/ so sessions survive restarts."""
    configured: str = env.str("DJANGO_SECRET_KEY", default="")
    if configured:
        return configured
    path = var_dir / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


try:
    VAR_DIR = _var_dir()
    DEBUG = _bool("DJANGO_DEBUG", default=False)
    SECRET_KEY = _secret_key(VAR_DIR)
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
    # Served over TLS (by a proxy that sets X-Forwarded-Proto): session and CSRF cookies
    # only over HTTPS, plain HTTP redirected, except the load balancer's health check.
    HTTPS = _bool("DJANGO_HTTPS", default=False)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
    if HTTPS:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    DATABASES = {
        "default": _private_database(
            env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'console.sqlite3'}")
        )
    }
    # The llmopt store: ArangoDB when ARANGO_URL is set, else SQLite at LLMOPT_SQLITE_PATH.
    LLMOPT_SQLITE_PATH = env.str("LLMOPT_SQLITE_PATH", default=str(VAR_DIR / "llmopt.sqlite3"))
    ARANGO_URL = env.str("ARANGO_URL", default="")
    ARANGO_DB = env.str("ARANGO_DB", default="_system")
    ARANGO_USERNAME = env.str("ARANGO_USERNAME", default="root")
    ARANGO_PASSWORD = env.str("ARANGO_PASSWORD", default="")
    LLMOPT_BACKUP_DIR = _private_dir(
        Path(env.str("LLMOPT_BACKUP_DIR", default=str(VAR_DIR / "backups")))
    )
    LOG_LEVEL = env.str("LLMOPT_LOG_LEVEL", default="INFO").upper()
    # What prune_old_records keeps, in days (expired reusable results always go).
    LLMOPT_RETENTION_USAGE_DAYS = _positive_int("LLMOPT_RETENTION_USAGE_DAYS", default=35)
    LLMOPT_RETENTION_HOURLY_USAGE_DAYS = _positive_int(
        "LLMOPT_RETENTION_HOURLY_USAGE_DAYS", default=400
    )
    LLMOPT_RETENTION_AUDIT_DAYS = _positive_int("LLMOPT_RETENTION_AUDIT_DAYS", default=365)
    LLMOPT_RETENTION_BATCH_DAYS = _positive_int("LLMOPT_RETENTION_BATCH_DAYS", default=30)
    LLMOPT_BATCH_POLL_SECONDS = _positive_int("LLMOPT_BATCH_POLL_SECONDS", default=15)
    # Celery: Redis in production; unset means the embedded broker under var/broker/.
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or EMBEDDED_BROKER_URL
    if CELERY_BROKER_URL == EMBEDDED_BROKER_URL:
        _private_dir(VAR_DIR / "broker")
        CELERY_BROKER_TRANSPORT_OPTIONS = embedded_transport_options(VAR_DIR)
    else:
        CELERY_BROKER_TRANSPORT_OPTIONS = {}
except (environ.ImproperlyConfigured, ValueError) as exc:
    raise ImproperlyConfigured(f"llmopt console settings: {exc}") from exc

# -- The door (README, "Security"): sign-in lockout, the client's address, API docs ------
try:
    # django-axes: this many failed sign-ins per account, or per client address, lock it
    # out for this many minutes from the last one; refused API tokens per address too.
    LLMOPT_LOCKOUT_FAILURES = _positive_int("LLMOPT_LOCKOUT_FAILURES", default=5)
    LLMOPT_LOCKOUT_MINUTES = _positive_int("LLMOPT_LOCKOUT_MINUTES", default=15)
    # Reverse proxies in front that append to X-Forwarded-For; 0 trusts none of it.
    TRUSTED_PROXY_COUNT = _whole_number("DJANGO_TRUSTED_PROXY_COUNT", default=0)
    LLMOPT_PUBLIC_API_DOCS = _bool("LLMOPT_PUBLIC_API_DOCS", default=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"llmopt console settings: {exc}") from exc

AUTHENTICATION_BACKENDS = [
    "console.accounts.signin.LockoutBackend",  # refuses a locked-out account or address first
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LLMOPT_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LLMOPT_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_CLIENT_IP_CALLABLE = "console.web.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "console.accounts.signin.lockout_response"
# Refused tries neither count nor extend the lockout, so "try again in N minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the failures: that would let anyone with an account reset
# their address's count between guesses at other accounts.
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept forever
AXES_ENABLE_ADMIN = False  # Django's admin is not served

# django-csp: nothing inline, nothing from elsewhere; htmx is told to inject no style
# and evaluate nothing (the htmx-config meta tag in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' Swagger UI from its own static files, no CDN
    "django_htmx",
    "template_partials",
    "axes",  # counts failed sign-ins (console.accounts.signin)
    "csp",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "console.web.no_store.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "console.api.envelope.ApiErrorEnvelopeMiddleware",
    "console.web.body_limits.RequestBodyLimitMiddleware",  # 413 before CSRF reads a body
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SITE_DIR / "templates"],
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # the overview
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [SITE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token travels in hx-headers

# Celery (console/celery.py reads every CELERY_* setting). Tasks write their outcome to
# the llmopt store, which is what the pages show, so there is no result backend.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task cut short by a lost worker runs again; all are idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # tasks are long enough that hoarding them starves peers
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "poll-batches": {
        "task": "console.tasks.poll_batches",
        "schedule": float(LLMOPT_BATCH_POLL_SECONDS),
        # A poll left waiting while later ones were queued is worth nothing: drop it.
        "options": {"expires": float(max(60, 2 * LLMOPT_BATCH_POLL_SECONDS))},
    },
    "roll-up-usage": {
        "task": "console.tasks.roll_up_usage",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "prune-old-records": {
        "task": "console.tasks.prune_old_records",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "llmopt": {"handlers": ["console"], "level": LOG_LEVEL},
        "console": {"handlers": ["console"], "level": LOG_LEVEL},
    },
}
