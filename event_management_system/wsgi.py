"""WSGI entry point, as served by gunicorn: `gunicorn event_management_system.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "event_management_system.settings")

django_application = get_wsgi_application()

# Answered before Django builds a request (both need the settings configured above): a plain
# registration (api/registrations/direct.py) and a repeated anonymous event read
# (api/caching.py).
from api.caching import CachedAnswers  # noqa: E402
from api.registrations.direct import DirectRegistrations  # noqa: E402


def front(app):
    """`app` behind the answers given before it."""
    return DirectRegistrations(CachedAnswers(app))


application = front(django_application)
