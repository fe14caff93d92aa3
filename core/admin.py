"""The staff side: events and attendees, with every seat change going through core.services."""

from django import forms
from django.contrib import admin

from core.exceptions import DomainError
from core.models import Attendee, Event
from core.services import cancel_registration, register_attendee


class AttendeeInline(admin.TabularInline):
    """An event's attendees, read-only here: registrations are added from the Attendee page."""

    model = Attendee
    fields = ["name", "email", "registered_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "start_time", "max_capacity", "attendee_count"]
    search_fields = ["name", "location"]
    list_filter = ["start_time"]
    date_hierarchy = "start_time"
    ordering = ["start_time", "id"]
    inlines = [AttendeeInline]

    @admin.display(description="attendees", ordering="seats_taken")
    def attendee_count(self, obj: Event) -> int:
        return obj.seats_taken


class AttendeeAddForm(forms.ModelForm):
    """Adding an attendee is a registration: the service's refusal is the form's error."""

    class Meta:
        model = Attendee
        fields = ["event", "name", "email"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.registration = register_attendee(
                event_id=cleaned["event"].pk, name=cleaned["name"], email=cleaned["email"]
            )
        except DomainError as error:
            raise forms.ValidationError(error.message, code=error.code) from None
        return cleaned


@admin.register(Attendee)
class AttendeeAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "event", "registered_at"]
    search_fields = ["name", "email"]
    list_filter = ["event"]
    list_select_related = ["event"]
    fields = ["event", "name", "email"]

    def get_readonly_fields(self, request, obj=None):
        # A registration is moved by cancelling it and registering again, never edited in place.
        return ["event", "email"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AttendeeAddForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        registration = form.registration
        obj.pk, obj.registered_at = registration.pk, registration.registered_at

    def delete_model(self, request, obj):
        cancel_registration(attendee_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for attendee_id in queryset.values_list("pk", flat=True):
            cancel_registration(attendee_id=attendee_id)
