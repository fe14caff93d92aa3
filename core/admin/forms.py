"""Attendee forms that check a registration while validating and make it when saved.

Validation reads (core.selectors) and shows a refusal on the row it is about; saving calls
core.services, whose refusal, if the event changed in between, ServiceAdmin reports.
"""

from contextlib import suppress

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html

from core.emails import normalize_email
from core.exceptions import AlreadyRegistered, AttendeeNotFound, DomainError
from core.models import Attendee
from core.selectors import registration_refusal
from core.services import register_attendee, remove_attendee

# The form field a refusal is about; the others are about the whole registration.
REFUSED_FIELD = {AlreadyRegistered: "email"}


def refuse(form: forms.BaseForm, refusal: DomainError) -> None:
    """Show `refusal` on `form`, on the field it is about if there is one.

    On the email field it also spares the email the model's own uniqueness check, which would
    say the same thing again in a database's words.
    """
    error = forms.ValidationError(refusal.message, code=refusal.code)
    form.add_error(REFUSED_FIELD.get(type(refusal)), error)


class RegistrationForm(forms.ModelForm):
    """A new attendee: validating checks the registration would be accepted, writing nothing."""

    class Meta:
        model = Attendee
        fields = ["event", "name", "email"]

    def clean_email(self):
        email = self.cleaned_data["email"]
        if self.instance.pk is not None:  # a stored row, shown as it is
            return email
        # Checked and compared in the spelling it will be stored in: one mailbox, one spelling.
        return normalize_email(email)

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk is not None:
            return cleaned
        refusal = registration_refusal(
            event_id=cleaned["event"].pk, email=cleaned["email"], now=timezone.now()
        )
        if refusal is not None:
            refuse(self, refusal)
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
    """An event's attendees: new rows register when saved, deleted rows are removed (a freed
    seat goes to the waiting list by itself)."""

    def new_rows(self) -> list[InlineRegistrationForm]:
        return [form for form in self.extra_forms if form.has_changed()]

    def clean(self):
        super().clean()
        now = timezone.now()
        accepted: list[str] = []  # the emails of the new rows accepted so far, lower-cased
        for form in self.new_rows():
            if not form.is_valid():
                continue
            email = form.cleaned_data["email"]
            refusal = None
            if email.lower() in accepted:
                refusal = AlreadyRegistered()
            elif accepted:
                # Each row checked itself as if alone; the rows above it take their seats first.
                refusal = registration_refusal(
                    event_id=self.instance.pk,
                    email=email,
                    now=now,
                    registering_before=len(accepted),
                )
            if refusal is None:
                accepted.append(email.lower())
            else:
                refuse(form, refusal)

    def save(self, commit=True):
        # The attributes BaseModelFormSet.save sets, which the admin's history message reads.
        self.changed_objects = []
        self.deleted_objects = [form.instance for form in self.deleted_forms]
        for attendee in self.deleted_objects:
            with suppress(AttendeeNotFound):  # removed meanwhile, or promoted and then removed
                remove_attendee(event_id=self.instance.pk, attendee_id=attendee.pk)
        self.new_objects = [
            register_attendee(
                event_id=self.instance.pk,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                # Staff add people without the event's questions (registration_refusal).
                answers={},
            ).attendee
            for form in self.new_rows()
        ]
        return self.new_objects
