"""Settings of the example project: what it needs, read from the environment."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "texin_demo.urls"
INSTALLED_APPS = ["texin_demo"]  # for its management command
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}  # none needed: one-time codes live in the cache
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
USE_TZ = True

# SyncTexinClient() reads TEXIN_API_KEY and TEXIN_BASE_URL itself.
TEXIN_RATE_LIMIT = os.environ.get("TEXIN_RATE_LIMIT", "100/60")
