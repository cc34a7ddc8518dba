"""Settings of the trial Django app: SQLite or PostgreSQL, by the APP_DB path or URL."""
import os
SECRET_KEY = "x"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "clinic"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
db = os.environ["APP_DB"]
if db.startswith("postgres"):
    import urllib.parse as u
    p = u.urlparse(db)
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": p.path[1:], "USER": p.username, "HOST": p.hostname, "PORT": p.port}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}}
