"""Attendees across events: find one, register one, export a selection as CSV."""

from django.contrib import admin

from core.admin.base import ServiceAdmin
from core.admin.exports import attendees_csv_response
from core.admin.forms import RegistrationForm
from core.models import Attendee
from core.services import cancel_registration, register_attendee


@admin.register(Attendee)
class AttendeeAdmin(ServiceAdmin):
    """Every registration; adding one registers through core.services, deleting one cancels."""

    list_display = ["name", "email", "event", "registered_at"]
    search_fields = ["name", "email"]
    list_filter = ["event"]
    list_select_related = ["event"]
    fields = ["event", "name", "email"]
    actions = ["export_csv"]

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
        attendee = register_attendee(event_id=obj.event_id, name=obj.name, email=obj.email)
        # The admin goes on with `obj`: its message and history name the registration made.
        obj.pk, obj.registered_at = attendee.pk, attendee.registered_at

    def delete_model(self, request, obj):
        cancel_registration(attendee_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for attendee_id in queryset.values_list("pk", flat=True):
            cancel_registration(attendee_id=attendee_id)

    @admin.action(description="Export selected attendees as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        attendees = queryset.order_by("event__start_time", "event_id", "id")
        return attendees_csv_response(attendees, filename="attendees.csv")
