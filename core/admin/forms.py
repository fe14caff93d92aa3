"""Attendee forms whose validation is a registration, so the service's refusal is the form's."""

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from core.exceptions import AlreadyRegistered, DomainError
from core.models import Attendee
from core.services import cancel_registration, register_attendee

# The form field a refusal is about; the others are about the whole registration.
REFUSED_FIELD = {AlreadyRegistered: "email"}


class RegistrationForm(forms.ModelForm):
    """A new attendee is registered by core.services while the form validates.

    Validation is the last moment a refusal (full, closed, already registered) can still be
    shown on the form; ServiceAdmin rolls the registration back if the submission is refused
    anywhere else.
    """

    class Meta:
        model = Attendee
        fields = ["event", "name", "email"]

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk is not None:
            return cleaned
        try:
            attendee = register_attendee(
                event_id=cleaned["event"].pk, name=cleaned["name"], email=cleaned["email"]
            )
        except DomainError as error:
            # A refusal about the email sits on that field, which also spares the email the
            # model's own uniqueness check and so saying the same thing twice.
            refusal = forms.ValidationError(error.message, code=error.code)
            self.add_error(REFUSED_FIELD.get(type(error)), refusal)
            return cleaned
        # The form now stands for the row just written, so the model's own uniqueness check
        # does not take that row for a duplicate of itself.
        self.instance.pk, self.instance.registered_at = attendee.pk, attendee.registered_at
        self.instance._state.adding = False
        return cleaned


class PlainText(forms.Widget):
    """A value shown as text, as the admin shows its read-only fields."""

    def render(self, name, value, attrs=None, renderer=None):
        return format_html("<p>{}</p>", value)


class InlineRegistrationForm(RegistrationForm):
    """A row of an event's attendee list: new rows register, existing ones are read-only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in ("name", "email"):
                self.fields[name].disabled = True
                self.fields[name].widget = PlainText()
                # Shown, never submitted: a row stored before a rule existed must not make
                # the whole page unsavable.
                self.fields[name].validators = []


class AttendeeInlineFormSet(BaseInlineFormSet):
    """An event's attendees: new rows were registered as they validated; deleted rows cancel."""

    def save(self, commit=True):
        # The attributes BaseModelFormSet.save sets, which the admin's history message reads.
        self.new_objects = [form.instance for form in self.extra_forms if form.has_changed()]
        self.changed_objects = []
        self.deleted_objects = [form.instance for form in self.deleted_forms]
        for attendee in self.deleted_objects:
            cancel_registration(attendee_id=attendee.pk)
        return self.new_objects
