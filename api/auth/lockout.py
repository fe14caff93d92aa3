"""The words of a sign-in refused for a lock-out (django-axes), the API's and the admin's rule."""

from django.conf import settings


def locked_out_message() -> str:
    """What a locked-out sign-in is told, the cool-off (settings.AXES_COOLOFF_TIME) named."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed sign-ins for this username from this address: it is locked out for "
        f"{minutes} minutes, as at the admin's sign-in."
    )
