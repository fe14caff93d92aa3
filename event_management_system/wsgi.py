"""WSGI entry point, as served by gunicorn: `gunicorn event_management_system.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "event_management_system.settings")

application = get_wsgi_application()

# Repeated anonymous event reads are answered before Django builds a request (api/caching.py).
from api.caching import CachedAnswers  # noqa: E402  (needs the settings configured above)

application = CachedAnswers(application)
