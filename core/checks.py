"""System checks for a deployment's email, run by `manage.py check --deploy`."""

from django.conf import settings
from django.core import checks

NO_MAIL_SERVER_IN_PRODUCTION = "core.W001"


@checks.register(checks.Tags.compatibility, deploy=True)
def no_mail_server_in_production(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Without DJANGO_EMAIL_HOST the worker prints emails to its console: nobody receives them."""
    if settings.EMAIL_HOST or settings.DEBUG:
        return []
    return [
        checks.Warning(
            "DJANGO_EMAIL_HOST is not set while DJANGO_DEBUG is false: the worker prints "
            "confirmation emails to its console instead of sending them.",
            hint="Set DJANGO_EMAIL_HOST (and DJANGO_EMAIL_PORT, DJANGO_EMAIL_HOST_USER, ...).",
            id=NO_MAIL_SERVER_IN_PRODUCTION,
        )
    ]
