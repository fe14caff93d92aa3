"""The registration page an email links to: see a registration, and cancel it with a button.

Following the link (a GET, as mail scanners do too) changes nothing; only the page's form, a
CSRF-protected POST, cancels, through the same service as `DELETE /api/registrations/{token}/`.
The token is in the path, so the pages are never cached, never indexed and send no Referer.
"""

from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views import View

from core.exceptions import RegistrationNotFound
from core.mail import format_utc
from core.qr import ticket_svg_inline
from core.selectors import place_by_token
from core.services import cancel_registration_by_token
from core.tickets import issue_ticket


class RegistrationPage(View):
    """GET: the registration `token` stands for, with a Cancel button; POST: cancel it."""

    def get(self, request, token: str):
        place = place_by_token(token=token)
        if place is None:
            return _page(request, "registrations/not_found.html", {}, status=404)
        event = place.attendee.event
        seated = place.position is None and not event.cancelled
        ticket = (
            issue_ticket(event_id=event.pk, registration_id=place.attendee.pk) if seated else None
        )
        context = {
            "ticket": ticket,
            # segno's own markup, of a text of Base64 characters only.
            "ticket_qr": mark_safe(ticket_svg_inline(ticket)) if ticket else None,
            "attendee": place.attendee,
            "event": event,
            "position": place.position,
            "starts": format_utc(event.start_time),
            "ends": format_utc(event.end_time),
        }
        return _page(request, "registrations/detail.html", context)

    def post(self, request, token: str):
        place = place_by_token(token=token)
        try:
            cancel_registration_by_token(token=token)
        except RegistrationNotFound:
            return _page(request, "registrations/not_found.html", {}, status=404)
        return _page(request, "registrations/cancelled.html", {"event": place.attendee.event})


def _page(request, template: str, context: dict, status: int = 200):
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


class DoorPage(View):
    """The door page for phones (`/door/`): a device signs in with its token and scans; the page
    works through the API alone (core/static/door/door.js), offline too."""

    def get(self, request):
        return _page(request, "door/door.html", {})
