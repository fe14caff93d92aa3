"""`?tz=<IANA name>`: every datetime an API response shows is rendered in that zone."""

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.http import JsonResponse
from django.utils import timezone

from api.exceptions import error_body
from event_management_system.paths import API_PREFIX

TZ_PARAMETER = "tz"
INVALID_TIMEZONE_CODE = "invalid_timezone"
INVALID_TIMEZONE_MESSAGE = (
    "Unknown time zone: use an IANA name such as Europe/Berlin, America/New_York or Asia/Kolkata."
)


@cache
def known_zone_names() -> frozenset[str]:
    """Every IANA zone name this machine's tz database holds."""
    return frozenset(available_timezones())


def zone_named(name: str) -> ZoneInfo | None:
    """The zone `name` names exactly, or None; never a path, never a guess at spelling."""
    if name not in known_zone_names():
        return None
    return ZoneInfo(name)


class RequestTimezoneMiddleware:
    """Activates the zone named by `?tz=` for an /api/ request; 400 for an unknown name."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX) or TZ_PARAMETER not in request.GET:
            return self.get_response(request)
        zone = zone_named(request.GET[TZ_PARAMETER])
        if zone is None:
            body = error_body(
                INVALID_TIMEZONE_MESSAGE,
                INVALID_TIMEZONE_CODE,
                {TZ_PARAMETER: [INVALID_TIMEZONE_MESSAGE]},
            )
            return JsonResponse(body, status=400)
        # Serializers and renderers show datetimes in the current zone, so activating it here
        # covers every view, however it builds its response; a bad name is refused before any
        # view runs, so nothing is written.
        with timezone.override(zone):
            return self.get_response(request)
