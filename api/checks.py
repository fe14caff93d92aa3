"""System checks for a deployment of the API, run by `manage.py check --deploy`."""

from django.conf import settings
from django.core import checks

OPEN_ACCESS_IN_PRODUCTION = "api.W001"


@checks.register(checks.Tags.security, deploy=True)
def open_access_in_production(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Open access is for local development: on a production server anyone may create events
    and read every attendee's name and email."""
    if not (settings.API_OPEN_ACCESS and not settings.DEBUG):
        return []
    return [
        checks.Warning(
            "DJANGO_API_OPEN_ACCESS is on while DJANGO_DEBUG is false: anyone may create events "
            "and read every attendee's name and email.",
            hint="Set DJANGO_API_OPEN_ACCESS=false (the default when DJANGO_DEBUG is false).",
            id=OPEN_ACCESS_IN_PRODUCTION,
        )
    ]
