"""The example project's settings: the three authlog lines are marked."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "shippers.contrib.django",  # authlog: ships the auth signals
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shippers.contrib.django.middleware.AuthlogMiddleware",  # authlog: password-reset views
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [BASE_DIR / "mysite" / "templates"]}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "var" / "db.sqlite3"))}}
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
LOGIN_REDIRECT_URL = "/"

# authlog: the shipper's config (the keys of authlog.toml, or the file) and the integration's own settings.
AUTHLOG = {"config": os.environ.get("AUTHLOG_CONFIG", str(BASE_DIR.parent / "authlog.toml"))}
AUTHLOG_INTEGRATION = {"events": {"logout": "session.logout"}}  # session.logout: ../events.toml
