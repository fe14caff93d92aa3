"""Attendees across events: find one, register one, export a selection as CSV."""

from contextlib import suppress

from django.contrib import admin, messages

from core.admin.base import ServiceAdmin
from core.admin.exports import attendees_csv_response
from core.admin.forms import RegistrationForm
from core.exceptions import AttendeeNotFound, DomainError
from core.models import Attendee, AttendeeStatus
from core.services import (
    approve_registration,
    decline_registration,
    erase_registrations,
    register_attendee,
    remove_attendee,
)


@admin.register(Attendee)
class AttendeeAdmin(ServiceAdmin):
    """Every registration, seat or waiting place; adding one registers through core.services,
    deleting one removes it there (a freed seat goes to the waiting list by itself)."""

    list_display = ["name", "email", "event", "status", "registered_at"]
    search_fields = ["name", "email"]
    list_filter = ["status", "event"]
    list_select_related = ["event"]
    fields = ["event", "name", "email"]
    actions = ["export_csv", "approve_requests", "decline_requests", "erase_personal_data"]

    def get_readonly_fields(self, request, obj=None):
        # A registration is moved by cancelling it and registering again, never edited in place.
        return ["event", "email"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RegistrationForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        attendee = register_attendee(
            event_id=obj.event_id, name=obj.name, email=obj.email, answers={}
        ).attendee
        # The admin goes on with `obj`: its message and history name the registration made.
        obj.pk, obj.registered_at = attendee.pk, attendee.registered_at

    def delete_model(self, request, obj):
        with suppress(AttendeeNotFound):  # removed meanwhile: nothing more to do
            remove_attendee(event_id=obj.event_id, attendee_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for event_id, attendee_id in queryset.values_list("event_id", "pk"):
            with suppress(AttendeeNotFound):
                remove_attendee(event_id=event_id, attendee_id=attendee_id)

    @admin.action(description="Export selected attendees as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        attendees = queryset.order_by("event__start_time", "event_id", "id")
        return attendees_csv_response(attendees, filename="attendees.csv")

    @admin.action(
        description="Erase personal data of selected attendees (keeps their places)",
        permissions=["change"],
    )
    def erase_personal_data(self, request, queryset):
        """Replace the selected registrations' names, emails and answers (and the emails'
        copies) by tombstones, as the retention period does; their seats stay counted."""
        erased = 0
        by_event: dict[int, list[int]] = {}
        for event_id, attendee_id in queryset.values_list("event_id", "pk"):
            by_event.setdefault(event_id, []).append(attendee_id)
        for event_id, attendee_ids in by_event.items():
            erased += erase_registrations(
                event_id=event_id, attendee_ids=attendee_ids, reason="staff"
            )
        self.message_user(request, f"Erased {erased} registration(s).", messages.SUCCESS)

    @admin.action(description="Approve selected pending requests", permissions=["change"])
    def approve_requests(self, request, queryset):
        """Approve each selected pending request as the API does: a seat, else the waiting
        list, under the event's lock."""
        self._decide(request, queryset, approve_registration, "Approved")

    @admin.action(description="Decline selected pending requests", permissions=["change"])
    def decline_requests(self, request, queryset):
        """Decline each selected pending request; the attendee is told by email."""
        self._decide(request, queryset, decline_registration, "Declined")

    def _decide(self, request, queryset, decide, verb: str) -> None:
        done = 0
        pending = queryset.filter(status=AttendeeStatus.PENDING).order_by("id")
        for event_id, attendee_id in pending.values_list("event_id", "pk"):
            try:
                decide(event_id=event_id, attendee_id=attendee_id)
            except DomainError as error:
                self.message_user(request, f"#{attendee_id}: {error.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{verb} {done} request(s).", messages.SUCCESS)
