"""Settings of the test project; AUTHLOG / AUTHLOG_INTEGRATION are set per test with override_settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(os.environ.get("AUTHLOG_TEST_DJANGO_DIR") or tempfile.mkdtemp(prefix="authlog-django-"))
SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "djproject.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "shippers.contrib.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shippers.contrib.django.middleware.AuthlogMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [Path(__file__).parent / "templates"]}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Why: the fastest hasher keeps user creation cheap in tests; never in production.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTHLOG = None
AUTHLOG_INTEGRATION = None
LOGGING_CONFIG = None
