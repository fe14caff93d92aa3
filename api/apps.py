from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API over HTTP."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"

    def ready(self):
        from api import checks  # noqa: F401 - registers the deploy checks
