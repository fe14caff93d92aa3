from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API over HTTP."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
