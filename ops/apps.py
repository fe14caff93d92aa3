from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the service: health probes, Prometheus metrics and one log line per request."""

    name = "ops"
    verbose_name = "Operations"
