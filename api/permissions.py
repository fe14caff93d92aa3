"""Who may do what. Views name these per action; an event's ownership is decided from the
event itself (`has_object_permission`), after the view has loaded it.

Refused callers get 401 `not_authenticated` when they sent no token, 403 `permission_denied`
when their token's user may not do this.
"""

from django.conf import settings
from rest_framework.permissions import BasePermission

from core.models import Device
from core.selectors import is_organiser


class OpenAccess(BasePermission):
    """Anyone, while the server runs with open access (DJANGO_API_OPEN_ACCESS), as the seed did."""

    def has_permission(self, request, view):
        # Read per request, so a test (or a settings override) can switch it.
        return settings.API_OPEN_ACCESS


class IsOrganiser(BasePermission):
    """A caller signed in as an organiser: staff, or a user allowed to add events."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and is_organiser(user))


class IsEventOwnerOrStaff(IsOrganiser):
    """An organiser acting on an event they own, or staff on any event."""

    def has_object_permission(self, request, view, event):
        return request.user.is_staff or event.owner_id == request.user.pk


class IsEventDevice(BasePermission):
    """A door device (api/authentication.py) acting on its own event, and on no other: decided
    from the address's event id, without reading the event."""

    def has_permission(self, request, view):
        device = request.auth
        return isinstance(device, Device) and str(device.event_id) == str(view.kwargs.get("pk"))

    def has_object_permission(self, request, view, event):
        return event.pk == request.auth.event_id


class IsWebhookOwnerOrStaff(IsOrganiser):
    """An organiser acting on a webhook endpoint they own, or staff on any endpoint."""

    def has_object_permission(self, request, view, endpoint):
        return request.user.is_staff or endpoint.owner_id == request.user.pk
