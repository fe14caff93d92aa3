from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Events, attendees and the rules that keep them consistent."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Events"

    def ready(self):
        from core import checks  # noqa: F401 - registers the deploy checks
