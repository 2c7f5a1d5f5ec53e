"""Settings of the panel, read from the environment (DESIGN.md §8).

Every variable has a development default so that a fresh checkout runs. With DEBUG off
(production) the secrets and service URLs must be given, or start-up stops naming the one
that is missing.
"""

import ipaddress
import os
import re
import socket
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import localenv

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def host_name(value: str) -> str:
    """A host name usable in queue names: a DNS label (lowercase letters, digits, hyphens)."""
    label = re.sub(r"[^a-z0-9-]+", "-", value.split(".")[0].strip().lower()).strip("-")
    return label[:63].strip("-") or "host"


def required_in_production(name: str, development_default: object) -> str:
    """The variable's value; in production a missing one stops start-up."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(
            f"{name} is not set. It is required when DEBUG is off (production); "
            "see README.md, Configuration."
        )
    return development_default() if callable(development_default) else str(development_default)


DEBUG = env_bool("DEBUG", True)
TESTING = env_bool("PAAS_TESTING", False)

PAAS_DATA_DIR = Path(os.environ.get("PAAS_DATA_DIR") or BASE_DIR / ".data").resolve()
PAAS_DOMAIN = os.environ.get("PAAS_DOMAIN", "panel.localhost").strip().lower()
PAAS_APPS_DOMAIN = os.environ.get("PAAS_APPS_DOMAIN", "apps.localhost").strip().lower()
# Custom domains (hosting.CustomDomain, projects/custom_domains.py). The public addresses of
# the machine Traefik answers on: what an apex domain's A/AAAA records must name (unset: the
# addresses the service's generated domain resolves to count, and apex domains are told to
# use their DNS provider's ALIAS/ANAME). The resolver is a class with lookup(hostname)
# (hosting.dns.SystemResolver: the machine's, through getaddrinfo); tests name a fake.
try:
    PAAS_PUBLIC_ADDRESSES = [str(ipaddress.ip_address(address))
                             for address in env_list("PAAS_PUBLIC_ADDRESSES")]
except ValueError as error:
    raise ImproperlyConfigured(f"PAAS_PUBLIC_ADDRESSES: {error}") from None
PAAS_DNS_RESOLVER = os.environ.get("PAAS_DNS_RESOLVER", "hosting.dns.SystemResolver").strip()
PAAS_MAX_CUSTOM_DOMAINS = env_int("PAAS_MAX_CUSTOM_DOMAINS", 20)
PAAS_ALLOW_LOCAL_REPOS = env_bool("PAAS_ALLOW_LOCAL_REPOS", DEBUG)
# https:// repositories on the panel's own network (loopback, private, link-local addresses,
# names like *.internal): off unless set, in development too, since a team could otherwise
# make the panel's git probe that network (projects/addresses.py). Metadata stays refused.
PAAS_ALLOW_INTERNAL_REPO_HOSTS = env_bool("PAAS_ALLOW_INTERNAL_REPO_HOSTS", False)

# The deploy engine (DESIGN.md §5). Apps listen on ports from this range, one per web instance.
PAAS_PORT_RANGE = tuple(int(p) for p in os.environ.get("PAAS_PORT_RANGE", "20000-29999").split("-"))
PAAS_MAX_CONCURRENT_BUILDS = int(
    os.environ.get("PAAS_MAX_CONCURRENT_BUILDS") or max(1, (os.cpu_count() or 2) // 2)
)
PAAS_RELEASES_KEPT = int(os.environ.get("PAAS_RELEASES_KEPT", "5"))
# After a switch the old release keeps serving this long for the requests in flight, then it
# is stopped; behind Traefik, counted from when Traefik has read the new route (poll interval
# and a margin first: deployments.routes.drain_seconds).
PAAS_DRAIN_SECONDS = float(os.environ.get("PAAS_DRAIN_SECONDS", "10"))
# Traefik's HTTP provider (platform/traefik/traefik.yml) reads the routing table from the
# panel's /traefik/config every this many seconds (its pollInterval: keep both the same). 0:
# no Traefik in front (the development router reads each route as it is used).
PAAS_TRAEFIK_POLL_SECONDS = float(os.environ.get("PAAS_TRAEFIK_POLL_SECONDS", "5"))
# The bearer token Traefik sends for it; unset, the endpoint refuses every request.
PAAS_TRAEFIK_TOKEN = os.environ.get("PAAS_TRAEFIK_TOKEN", "").strip()
# Where Traefik sends the panel's own domain and its workspaces' subdomains: the web process.
PAAS_PANEL_UPSTREAM = (os.environ.get("PAAS_PANEL_UPSTREAM", "").strip().rstrip("/")
                       or f"http://127.0.0.1:{os.environ.get('PANEL_PORT') or 8000}")
if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", PAAS_PANEL_UPSTREAM):
    raise ImproperlyConfigured("PAAS_PANEL_UPSTREAM is http://HOST:PORT (no path).")
# An active deployment whose process restarts more than N times within M seconds crashed.
PAAS_CRASH_RESTARTS = int(os.environ.get("PAAS_CRASH_RESTARTS", "3"))
PAAS_CRASH_WINDOW_SECONDS = int(os.environ.get("PAAS_CRASH_WINDOW_SECONDS", "120"))
# A building or deploying deployment whose worker has not beaten for this long is failed.
PAAS_HEARTBEAT_TIMEOUT_SECONDS = int(os.environ.get("PAAS_HEARTBEAT_TIMEOUT_SECONDS", "60"))
# This machine as a host of apps (hosting.Host): its worker consumes the queues
# build.<name>, deploy.<name> and monitor.<name>; routers reach its apps at the address.
PAAS_HOST_NAME = host_name(os.environ.get("PAAS_HOST_NAME") or socket.gethostname())
PAAS_HOST_ADDRESS = os.environ.get("PAAS_HOST_ADDRESS", "127.0.0.1").strip()
# Everything the engine puts on the host: releases/, cache/ (npm, pip per service), logs/,
# pm2/ (PM2_HOME of the panel's own PM2 daemon). Nothing outside it is ever removed.
PAAS_APPS_DIR = Path(os.environ.get("PAAS_APPS_DIR") or PAAS_DATA_DIR / "apps").resolve()
PAAS_PM2_HOME = PAAS_APPS_DIR / "pm2"
# The log shipper (`manage.py ship_logs`) rotates a process's output file past this size, and
# PM2's own log (PM2_HOME/pm2.log) too.
PAAS_LOG_FILE_MAX_BYTES = env_int("PAAS_LOG_FILE_MAX_BYTES", 10 * 1024 * 1024)
# How: "punch" frees the part already stored (nothing lost; falls back to "rename" where the
# filesystem cannot), "rename" moves the file aside and has PM2 reopen its files.
PAAS_LOG_ROTATION = os.environ.get("PAAS_LOG_ROTATION", "punch").strip().lower()
if PAAS_LOG_ROTATION not in ("punch", "rename"):
    raise ImproperlyConfigured("PAAS_LOG_ROTATION is punch or rename")
# Uploaded source trees (a .tar.gz a deployment is built from): the compressed size, what it
# may expand to, at most this many times the compressed size (past a 1 MiB floor), and entries.
PAAS_UPLOAD_MAX_BYTES = env_int("PAAS_UPLOAD_MAX_BYTES", 100 * 1024 * 1024)
PAAS_UPLOAD_MAX_EXPANDED_BYTES = env_int("PAAS_UPLOAD_MAX_EXPANDED_BYTES", 1024 * 1024 * 1024)
PAAS_UPLOAD_MAX_RATIO = env_int("PAAS_UPLOAD_MAX_RATIO", 100)
PAAS_UPLOAD_MAX_FILES = env_int("PAAS_UPLOAD_MAX_FILES", 50_000)
PAAS_PM2_BIN = os.environ.get("PAAS_PM2_BIN") or str(BASE_DIR / "node_modules" / ".bin" / "pm2")
# The development router: http://<generated domain>:PORT (projects.domains) follows each
# service's route until Traefik takes its place.
PAAS_ROUTER_PORT = int(os.environ.get("PAAS_ROUTER_PORT", "8080"))
# Isolation (README, Isolation): each workspace's builds and apps run as a Unix user of its
# own, uid = first uid of PAAS_WORKSPACE_UIDS + the workspace's id, named
# PAAS_WORKSPACE_USER_PREFIX + uid. "auto" (the default) isolates when the panel runs as
# root and warns loudly when it cannot; "off" turns it off (with the same warning); "on"
# refuses to start without root.
PAAS_ISOLATION = os.environ.get("PAAS_ISOLATION", "auto").strip().lower()
if PAAS_ISOLATION not in {"auto", "on", "off"}:
    raise ImproperlyConfigured("PAAS_ISOLATION must be auto, on or off.")
if PAAS_ISOLATION == "on" and os.geteuid() != 0:
    raise ImproperlyConfigured(
        "PAAS_ISOLATION is on but the panel does not run as root: it cannot run apps as the "
        "workspaces' users. Run it as root, or set PAAS_ISOLATION=auto (off, with a warning)."
    )
PAAS_ISOLATED = PAAS_ISOLATION != "off" and os.geteuid() == 0
PAAS_WORKSPACE_UIDS = tuple(
    int(part) for part in os.environ.get("PAAS_WORKSPACE_UIDS", "200000-299999").split("-")
)
if len(PAAS_WORKSPACE_UIDS) != 2 or not 1000 <= PAAS_WORKSPACE_UIDS[0] < PAAS_WORKSPACE_UIDS[1]:
    raise ImproperlyConfigured("PAAS_WORKSPACE_UIDS must be a range FIRST-LAST above 1000.")
PAAS_WORKSPACE_USER_PREFIX = os.environ.get("PAAS_WORKSPACE_USER_PREFIX", "paas-")
if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,15}", PAAS_WORKSPACE_USER_PREFIX):
    raise ImproperlyConfigured(
        "PAAS_WORKSPACE_USER_PREFIX must be up to 16 lowercase letters, digits, _ or -."
    )
# Email (invitations): the console in development; SMTP with EMAIL_HOST (EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS) in production. Django 6.1's MAILERS.
if DEBUG and not os.environ.get("EMAIL_HOST"):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
        },
    }}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"panel@{PAAS_DOMAIN}")
PAAS_INVITATION_DAYS = env_int("PAAS_INVITATION_DAYS", 7)
PAAS_AUDIT_DAYS = env_int("PAAS_AUDIT_DAYS", 90)
# Proxies in front of the panel whose X-Forwarded-For is trusted (Traefik: 1); 0 = none.
PAAS_TRUSTED_PROXY_COUNT = env_int("PAAS_TRUSTED_PROXY_COUNT", 0)
# Host-wide caps of the per-service limits (a service's own settings cannot go past them).
PAAS_LIMIT_MEMORY_MB = env_int("PAAS_LIMIT_MEMORY_MB", 4096)
PAAS_LIMIT_PROCESSES = env_int("PAAS_LIMIT_PROCESSES", 1024)
PAAS_LIMIT_OPEN_FILES = env_int("PAAS_LIMIT_OPEN_FILES", 65536)
PAAS_LIMIT_MIN_NICE = env_int("PAAS_LIMIT_MIN_NICE", 0)
# nftables table whose set of (uid . port) pairs the panel keeps up to date: platform/nftables.
PAAS_FIREWALL_TABLE = os.environ.get("PAAS_FIREWALL_TABLE", "paas")


def reachable_by_apps(entry: str) -> bool:
    """Whether a PATH entry is usable by the workspaces' users: outside the panel's checkout,
    and every directory on the way searchable by others when apps run as other users."""
    path = Path(entry).resolve()
    if path.is_relative_to(BASE_DIR):
        return False
    if not PAAS_ISOLATED:
        return True
    try:
        return all(folder.stat().st_mode & 0o001 for folder in [path, *path.parents])
    except OSError:
        return False


# PATH of builds and apps: the host's, without the panel's own virtualenv and node_modules
# (an app's `python3` is the host's, not the panel's), nor what the apps' users cannot reach.
PAAS_APP_PATH = os.environ.get("PAAS_APP_PATH") or os.pathsep.join(
    entry for entry in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
    if entry and reachable_by_apps(entry)
)

SECRET_KEY = required_in_production(
    "SECRET_KEY", lambda: localenv.generated_secret(PAAS_DATA_DIR, "secret_key", 50)
)
PAAS_ENCRYPTION_KEYS = required_in_production(
    "PAAS_ENCRYPTION_KEYS", lambda: localenv.generated_secret(PAAS_DATA_DIR, "encryption_key", 32)
)
try:  # a malformed keyring stops start-up, naming the variable (never the key)
    from core.crypto import Keyring, KeyringError

    Keyring.parse(PAAS_ENCRYPTION_KEYS)
except KeyringError as error:
    raise ImproperlyConfigured(str(error)) from None
DATABASE_URL = required_in_production(
    "DATABASE_URL", lambda: localenv.embedded_database_url(PAAS_DATA_DIR)
)
REDIS_URL = required_in_production("REDIS_URL", lambda: localenv.embedded_redis_url(PAAS_DATA_DIR))

# GitHub (github/): an OAuth app for sign-in and repository access, and its addresses, so
# that GitHub Enterprise Server works too (https://HOST and https://HOST/api/v3).
GITHUB_CLIENT_ID = os.environ.get("GITHUB_CLIENT_ID", "")
GITHUB_CLIENT_SECRET = os.environ.get("GITHUB_CLIENT_SECRET", "")
GITHUB_URL = os.environ.get("GITHUB_URL", "https://github.com").strip().rstrip("/")
GITHUB_API_URL = os.environ.get("GITHUB_API_URL", "https://api.github.com").strip().rstrip("/")
# Scopes asked at sign-in: the verified addresses, and repositories (private ones, their hooks
# and commit statuses).
GITHUB_SCOPES = env_list("GITHUB_SCOPES", "user:email,repo,admin:repo_hook")

# Paths of a workspace's subdomain that are open without a session (MembershipMiddleware):
# GitHub's webhook deliveries, which prove themselves by their signature.
PAAS_PUBLIC_PATHS = ("/webhooks/",)
# GitHub caps a webhook's payload at 25 MB; a larger body is refused (413) before it is read
# in full, on a path of its own (config.asgi) as in the view.
GITHUB_WEBHOOK_MAX_BYTES = env_int("GITHUB_WEBHOOK_MAX_BYTES", 25 * 1024 * 1024)

AUTHENTICATION_BACKENDS = [
    "github.auth.GitHubOAuth2",
    "django.contrib.auth.backends.ModelBackend",
]
SOCIAL_AUTH_GITHUB_KEY = GITHUB_CLIENT_ID
SOCIAL_AUTH_GITHUB_SECRET = GITHUB_CLIENT_SECRET
SOCIAL_AUTH_GITHUB_SCOPE = GITHUB_SCOPES
SOCIAL_AUTH_USER_MODEL = "tenants.User"
SOCIAL_AUTH_USERNAME_IS_FULL_EMAIL = True
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/login/github/done/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/login/"
SOCIAL_AUTH_RAISE_EXCEPTIONS = False
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_REDIRECT_IS_HTTPS = not DEBUG and env_bool("PAAS_HTTPS", True)
# social-core's steps, with the panel's own (github/pipeline.py) where an account is found or
# made and where the token is kept; load_extra_data is left out, so that social-core's table
# holds no token.
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "github.pipeline.link_by_verified_email",
    "github.pipeline.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "github.pipeline.store_account",
)

# Hosts: the panel's root domain and every workspace subdomain. Any other Host gets 404
# from tenants.middleware before Django looks at it.
ALLOWED_HOSTS = [PAAS_DOMAIN, f".{PAAS_DOMAIN}", *env_list("PAAS_EXTRA_HOSTS")]

SHARED_APPS = [
    # Before django_tenants, whose admin/index.html and admin/app_list.html (colours for tenant
    # apps, which two separate admin sites do not need) carry inline styles the
    # Content-Security-Policy refuses: the admin's own templates win.
    "django.contrib.admin",
    "django_tenants",
    "tenants",
    "hosting",
    "social_django",
    "github",  # after social_django: its admin.py unregisters social_django's
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_dramatiq",
    "dramatiq_crontab",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the panel (no CDN)
    "api",
]
TENANT_APPS = [
    "projects",
    "deployments",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Workspace"
TENANT_DOMAIN_MODEL = "tenants.Domain"
TENANT_BASE_SCHEMA = "workspace_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
# PAAS_ROOT_URLCONF: for benchmarks only (benchmarks/_webhook_urls.py and _api_urls.py add the
# endpoints they compare the webhook and the API with); production leaves it unset.
ROOT_URLCONF = os.environ.get("PAAS_ROOT_URLCONF", "config.urls_tenant")
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "tenants.middleware.WorkspaceRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.MembershipMiddleware",
    "tenants.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A refused sign-in with GitHub: back to the login page with the reason.
    "social_django.middleware.SocialAuthExceptionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

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
                "django.template.context_processors.csp",
                "tenants.context_processors.workspace",
                "deployments.isolation.admin_isolation_warnings",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# Database connections come from a pool per process (psycopg_pool, through Django) of at most
# PAAS_DB_POOL_SIZE: a request takes one at its first query and gives it back at its end
# (request_finished), as do a WebSocket consumer's calls (database_sync_to_async) and a
# Dramatiq message (DbConnectionsMiddleware), and the next user takes it without a new
# PostgreSQL session, which cost more than a webhook's own work. Under ASGI, connections kept
# for reuse in each request's thread (CONN_MAX_AGE) piled up until PostgreSQL refused clients.
# django-tenants sets the search_path on every cursor it opens and forgets it when the
# connection is closed, so a connection back from the pool never answers in its last user's
# schema (config/tests/test_database_pool.py). Dramatiq forks its workers before any
# connection is made. The tests use the pool too. PAAS_DB_POOL_SIZE=0: no pool; each thread
# keeps its connection PAAS_DB_CONN_MAX_AGE seconds (the web process reuses its request
# threads, core.asgihandler, so theirs are reused too).
PAAS_DB_POOL_SIZE = env_int("PAAS_DB_POOL_SIZE", 10)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, engine="django_tenants.postgresql_backend",
        conn_max_age=0 if PAAS_DB_POOL_SIZE else env_int("PAAS_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if PAAS_DB_POOL_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, PAAS_DB_POOL_SIZE), "max_size": PAAS_DB_POOL_SIZE,
        # A request waits this long for a connection of a busy pool, then fails (500).
        "timeout": 10.0, "name": "panel",
    }
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("PAAS_TEST_DATABASE", "test_paas")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenants.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workspace_list"

# One login on the root domain reaches every workspace subdomain.
SESSION_COOKIE_DOMAIN = f".{PAAS_DOMAIN}"
CSRF_COOKIE_DOMAIN = f".{PAAS_DOMAIN}"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE = not DEBUG and env_bool("PAAS_HTTPS", True)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Traefik's HTTP provider asks for its configuration over plain HTTP on the loopback
# (platform/traefik/traefik.yml), and follows no redirect to an HTTPS it does not have yet.
SECURE_REDIRECT_EXEMPT = [r"^traefik/config$"]
X_FRAME_OPTIONS = "DENY"
_scheme = "https" if SECURE else "http"
CSRF_TRUSTED_ORIGINS = [f"{_scheme}://{PAAS_DOMAIN}", f"{_scheme}://*.{PAAS_DOMAIN}"]
# Where browsers reach the panel's root domain (scheme, host and port), for the links the
# panel gives outside a request: GitHub's webhook address and its commit statuses' links.
PAAS_PANEL_URL = os.environ.get(
    "PAAS_PANEL_URL", f"{_scheme}://{PAAS_DOMAIN}" + (
        f":{os.environ['PANEL_PORT']}" if os.environ.get("PANEL_PORT") else "")).rstrip("/")

# Content-Security-Policy of every panel page: nothing but the panel's own files, no inline
# script or style without the request's nonce (templates: nonce="{{ csp_nonce }}"). Forms may
# land on the root domain and the workspaces' subdomains (log-in with `next`, a new workspace,
# log-out); the workspace home's WebSocket is on its own subdomain. In production the panel is
# on the scheme's default port; elsewhere on any (make run, the development router, tests).
_any_port = "" if SECURE else ":*"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF, f"{'wss' if SECURE else 'ws'}://*.{PAAS_DOMAIN}{_any_port}"],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    # GitHub: "Sign in with GitHub" posts to the panel, which redirects to GitHub.
    "form-action": [CSP.SELF, f"{_scheme}://{PAAS_DOMAIN}{_any_port}",
                    f"{_scheme}://*.{PAAS_DOMAIN}{_any_port}", GITHUB_URL],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# WhiteNoise answers with file iterators that are synchronous; under ASGI Django streams them
# through a thread and warns on every static file. Harmless there, and noise in the logs.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

STATIC_URL = "/static/"
STATIC_ROOT = PAAS_DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from the finders here
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

# channels-redis waits for a consumer's next message with a blocking read of 5 s (BZPOPMIN);
# redis-py 8 gives every read a socket timeout of 5 s too, so a socket quiet for 5 s failed
# that read and its consumer with it. Reads wait longer than the blocking pop (and a server
# that stopped answering still fails them).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                   "prefix": "paas:channels"},
    }
}

DRAMATIQ_BROKER = {
    "BROKER": "dramatiq.brokers.redis.RedisBroker",
    "OPTIONS": {"url": REDIS_URL, "namespace": os.environ.get("PAAS_QUEUE_NAMESPACE", "paas")},
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "config.dramatiq.WorkspaceSchemaMiddleware",
        "config.dramatiq.HostRegistrationMiddleware",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
    ],
}
# An idle worker asks Redis for work every 50 ms at most (dramatiq's default backs off to a
# second): a deploy should not wait for the queue. Read by the worker processes at start.
os.environ.setdefault("dramatiq_worker_timeout", "50")
DRAMATIQ_TASKS_DATABASE = "default"
DRAMATIQ_CRONTAB = {"REDIS_URL": REDIS_URL}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The clock's scheduler reports every lock extension (every 5 s) at INFO, the database
    # pool every connection taken and given back.
    "loggers": {"django.db.backends": {"level": "WARNING"},
                "apscheduler": {"level": "WARNING"}, "psycopg.pool": {"level": "WARNING"}},
}

# The REST API (api/, README "API") under <slug>.PAAS_DOMAIN/api/v1/: personal access tokens
# or the session (with CSRF); it answers JSON itself, so MembershipMiddleware lets it through.
PAAS_API_PATHS = ("/api/",)
PAAS_API_THROTTLE_RATE = os.environ.get("PAAS_API_THROTTLE_RATE", "1200/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.TokenAuthentication",
                                       "api.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.WorkspaceRole"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": PAAS_API_THROTTLE_RATE},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PaaS panel API",
    "DESCRIPTION": "A workspace's projects, environments, services, deployments, variables, "
                   "members, invitations and webhook deliveries.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "tenants.roles.Role",
                            "AssignableRoleEnum": ["admin", "member"],
                            "DeploymentStatusEnum": "deployments.models.Status",
                            "DomainStatusEnum": "hosting.models.CustomDomain.Status"},
}

RESERVED_WORKSPACE_SLUGS = frozenset(
    {
        "www", "api", "admin", "panel", "static", "media", "ws", "app", "apps", "mail",
        "smtp", "ftp", "git", "ssh", "status", "docs", "help", "support", "blog", "auth",
        "login", "logout", "signup", "account", "accounts", "dashboard", "public",
        "traefik", "metrics", "grafana", "cdn", "assets", "webhooks", "hooks", "new",
        "workspace", "workspaces", "template", "root", "system", "localhost",
    }
)
