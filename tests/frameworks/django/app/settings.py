"""Settings for the Django app lite2pg's CI migrates: the database comes from LITE2PG_DJANGO_DB,
a SQLite path or a postgres:// URL."""
import os
from urllib.parse import urlparse, unquote

SECRET_KEY = "lite2pg-ci-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shop"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_db = os.environ["LITE2PG_DJANGO_DB"]
if _db.startswith("postgres"):
    u = urlparse(_db)
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": u.path.lstrip("/"),
        "USER": unquote(u.username or ""),
        "PASSWORD": unquote(u.password or ""),
        "HOST": u.hostname,
        "PORT": u.port,
    }}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _db}}
