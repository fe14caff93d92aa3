"""Events: a list that shows at a glance which are nearly full, and a page to run one from."""

from contextlib import suppress
from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from core.admin.base import ServiceAdmin
from core.admin.exports import attendees_csv_response
from core.admin.forms import AttendeeInlineFormSet, InlineRegistrationForm
from core.charts import bar_chart
from core.exceptions import DomainError, QuestionNotFound
from core.models import Attendee, AttendeeStatus, Event, Question, QuestionKind
from core.selectors import (
    arrivals,
    checked_in_count,
    checkin_conflicts,
    event_attendees,
    registrations_over_time,
)
from core.services import (
    cancel_event,
    create_event,
    delete_question,
    save_question,
    update_event,
)

# What an organiser sets of a question, in the admin as in the API.
QUESTION_FIELDS = ("label", "kind", "choices", "required", "max_length", "position")

FILL_BAR_WIDTH = 10
# The event-day page: how its charts bucket time, and how often it reloads itself while open.
ARRIVALS_BUCKET = timedelta(minutes=5)
REGISTRATIONS_BUCKET = timedelta(days=1)
EVENT_DAY_REFRESH_SECONDS = 30
# When an event happens, relative to now; not to be confused with its status (scheduled or
# cancelled), which says whether it happens at all.
TIMING_LABELS = {"upcoming": "upcoming", "in_progress": "in progress", "past": "past"}


def fill_bar(taken: int, capacity: int) -> str:
    """`███████░░░ 70%`: the share of seats taken.

    Rounded down, so a bar reads full, or 100%, only when no seat is left.
    """
    blocks = taken * FILL_BAR_WIDTH // capacity
    return f"{'█' * blocks}{'░' * (FILL_BAR_WIDTH - blocks)} {taken * 100 // capacity}%"


def timing_condition(timing: str, now: datetime) -> Q:
    """The events with `timing` at `now`; upcoming means not started, as in the API."""
    return {
        "upcoming": Q(start_time__gt=now),
        "in_progress": Q(start_time__lte=now, end_time__gt=now),
        "past": Q(end_time__lte=now),
    }[timing]


def timing_of(event: Event, now: datetime) -> str:
    if event.start_time > now:
        return "upcoming"
    return "in_progress" if event.end_time > now else "past"


class TimingFilter(admin.SimpleListFilter):
    """Upcoming, in progress or past, as of the moment the list is shown."""

    title = "timing"
    parameter_name = "timing"

    def lookups(self, request, model_admin):
        return list(TIMING_LABELS.items())

    def queryset(self, request, queryset):
        if self.value() not in TIMING_LABELS:
            return queryset
        return queryset.filter(timing_condition(self.value(), timezone.now()))


class AttendeeInline(admin.TabularInline):
    """An event's attendees holding seats, newest last: a new row registers, a deleted row
    frees its seat (for the longest-waiting entry, if any)."""

    model = Attendee
    form = InlineRegistrationForm
    formset = AttendeeInlineFormSet
    fields = ["name", "email", "registered_at"]
    readonly_fields = ["registered_at"]
    ordering = ["id"]
    extra = 0
    formfield_overrides = ServiceAdmin.formfield_overrides

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=AttendeeStatus.REGISTERED)

    def get_formset(self, request, obj=None, **kwargs):
        # A new row is taken away with its ×, before saving: ticked for deletion, it would be
        # a registration to make and cancel at once.
        return super().get_formset(request, obj, can_delete_extra=False, **kwargs)


class WaitingInline(admin.TabularInline):
    """An event's waiting list, the next to get a seat first; a deleted row gives up its place.

    Places are taken through the API (`"waitlist": true`); a seat freed here or anywhere goes
    to the first row by itself.
    """

    model = Attendee
    formset = AttendeeInlineFormSet
    verbose_name = "waiting list entry"
    verbose_name_plural = "waiting list"
    fields = ["name", "email", "registered_at"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=AttendeeStatus.WAITLISTED)

    def has_add_permission(self, request, obj=None):
        return False


class PendingInline(admin.TabularInline):
    """The event's requests awaiting approval, oldest first, with their answers; decided from
    the attendee list's actions (Approve, Decline), as through the API."""

    model = Attendee
    verbose_name = "request awaiting approval"
    verbose_name_plural = "requests awaiting approval"
    fields = ["name", "email", "answers", "registered_at"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=AttendeeStatus.PENDING)

    def has_add_permission(self, request, obj=None):
        return False


class QuestionInlineFormSet(BaseInlineFormSet):
    """An event's questions: written through core.services, which keeps the event's
    `requires_answers` in step with them."""

    def save(self, commit=True):
        self.changed_objects = []
        self.deleted_objects = [form.instance for form in self.deleted_forms]
        for question in self.deleted_objects:
            if question.pk is not None:
                with suppress(QuestionNotFound):
                    delete_question(event_id=self.instance.pk, question_id=question.pk)
        self.new_objects = []
        for form in self.initial_forms:
            if form in self.deleted_forms or not form.has_changed():
                continue
            save_question(
                event_id=self.instance.pk,
                question_id=form.instance.pk,
                **{name: form.cleaned_data[name] for name in QUESTION_FIELDS},
            )
            self.changed_objects.append((form.instance, form.changed_data))
        for form in self.extra_forms:
            if not form.has_changed() or form in self.deleted_forms:
                continue
            self.new_objects.append(
                save_question(
                    event_id=self.instance.pk,
                    **{name: form.cleaned_data[name] for name in QUESTION_FIELDS},
                )
            )
        return self.new_objects


class QuestionForm(forms.ModelForm):
    """A question's row: choices one per line; checked as the API checks them."""

    choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 30}),
        required=False,
        help_text="One per line, for choice and multiple choice questions.",
    )

    class Meta:
        model = Question
        fields = QUESTION_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["choices"] = "\n".join(self.instance.choices)

    def clean_choices(self):
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]

    def clean(self):
        cleaned = super().clean()
        kind, choices = cleaned.get("kind"), cleaned.get("choices") or []
        if kind in (QuestionKind.CHOICE, QuestionKind.MULTIPLE_CHOICE) and not choices:
            self.add_error("choices", "A choice question needs at least one choice.")
        if kind not in (QuestionKind.CHOICE, QuestionKind.MULTIPLE_CHOICE) and choices:
            self.add_error("choices", "Only choice and multiple choice questions have choices.")
        return cleaned


class QuestionInline(admin.TabularInline):
    """The event's questions, in their order."""

    model = Question
    form = QuestionForm
    formset = QuestionInlineFormSet
    fields = list(QUESTION_FIELDS)
    ordering = ["position", "id"]
    extra = 0


@admin.register(Event)
class EventAdmin(ServiceAdmin):
    """Events soonest first, with their seats at a glance; an event's page lists its attendees."""

    list_display = [
        "name",
        "location",
        "start_time",
        "timing",
        "status",
        "max_capacity",
        "attendee_count",
        "waitlist_count",
        "fill",
        "owner",
    ]
    list_select_related = ["owner"]
    search_fields = ["name", "location"]
    list_filter = [TimingFilter, "status"]
    date_hierarchy = "start_time"
    ordering = ["start_time", "id"]
    actions = ["cancel_events"]
    # The owner is whoever created the event (here, the staff member adding it).
    readonly_fields = ["status", "seats", "owner"]

    def get_fields(self, request, obj=None):
        return [*Event.ORGANISER_FIELDS, *(["status", "seats", "owner"] if obj else [])]

    def get_inlines(self, request, obj):
        # Attendees need the event to exist: they are added once it has been saved.
        return [QuestionInline, AttendeeInline, WaitingInline, PendingInline] if obj else []

    def has_change_permission(self, request, obj=None):
        # A cancelled event is a record: shown, never changed (core.services refuses it too).
        if obj is not None and obj.cancelled:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="timing", ordering="start_time")
    def timing(self, obj: Event) -> str:
        return TIMING_LABELS[timing_of(obj, timezone.now())]

    @admin.display(description="attendees", ordering="seats_taken")
    def attendee_count(self, obj: Event) -> int:
        # The counter the services keep, so the list costs no query per row.
        return obj.seats_taken

    @admin.display(description="waiting", ordering="waitlist_taken")
    def waitlist_count(self, obj: Event) -> int:
        return obj.waitlist_taken

    @admin.display(description="filled")
    def fill(self, obj: Event) -> str:
        return format_html(
            '<span class="fill-bar" style="font-family: monospace; white-space: nowrap" '
            'title="{} of {} seats taken">{}</span>',
            obj.seats_taken,
            obj.max_capacity,
            fill_bar(obj.seats_taken, obj.max_capacity),
        )

    @admin.display(description="seats")
    def seats(self, obj: Event) -> str:
        # As stored: on a form shown again, `obj` holds the capacity that was just refused.
        stored = (
            Event.objects.only("seats_taken", "waitlist_taken", "max_capacity")
            .filter(pk=obj.pk)
            .first()
            or obj
        )
        return format_html(
            "{} of {} taken &nbsp; {} &nbsp; {} waiting",
            stored.seats_taken,
            stored.max_capacity,
            self.fill(stored),
            stored.waitlist_taken,
        )

    @admin.action(description="Cancel selected events", permissions=["change"])
    def cancel_events(self, request, queryset):
        """Cancel each event through core.services; one that has started is named and kept."""
        cancelled = 0
        for event in queryset.order_by("start_time", "id"):
            try:
                cancel_event(event_id=event.pk)
            except DomainError as error:
                self.message_user(request, f"{event}: {error.message}", messages.ERROR)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} event(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.pk = create_event(owner=request.user, **self.submitted_fields(form)).pk
        # A change is saved in save_related, after the attendee rows: a new capacity is then
        # checked against the attendance the whole submission leaves.

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            # Only what the person changed: the page shows times to the second, so a start
            # sent back as shown is not the stored one, and must not count as a move.
            changed = {
                name: value
                for name, value in self.submitted_fields(form).items()
                if name in form.changed_data
            }
            update_event(event_id=form.instance.pk, **changed)

    @staticmethod
    def submitted_fields(form) -> dict:
        return {name: form.cleaned_data[name] for name in Event.ORGANISER_FIELDS}

    def get_urls(self):
        opts = self.opts
        attendees_csv = path(
            "<path:object_id>/attendees.csv",
            self.admin_site.admin_view(self.attendees_csv_view),
            name=f"{opts.app_label}_{opts.model_name}_attendees_csv",
        )
        event_day = path(
            "<path:object_id>/day/",
            self.admin_site.admin_view(self.event_day_view),
            name=f"{opts.app_label}_{opts.model_name}_day",
        )
        return [attendees_csv, event_day, *super().get_urls()]

    def event_day_view(self, request, object_id):
        """The event day: checked in of seats, not yet arrived (no-shows once it is over),
        arrivals and registrations over time as charts; the page reloads itself while open."""
        event = self.get_object(request, unquote(object_id))
        if event is None:
            raise Http404("No event exists with this id.")
        if not self.has_view_permission(request, event):
            raise PermissionDenied
        checked_in = checked_in_count(event_id=event.pk)
        over = event.end_time <= timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": event,
            "title": f"Event day: {event}",
            "checked_in": checked_in,
            "seats_taken": event.seats_taken,
            "absent": max(event.seats_taken - checked_in, 0),
            "absent_label": "No-shows" if over else "Not yet arrived",
            "conflicts": checkin_conflicts(event_id=event.pk).count(),
            "arrivals_chart": mark_safe(  # noqa: S308 - SVG drawn by core.charts, text escaped
                bar_chart(
                    arrivals(event_id=event.pk, bucket=ARRIVALS_BUCKET),
                    title="Arrivals per 5 minutes (UTC)",
                )
            ),
            "registrations_chart": mark_safe(  # noqa: S308 - as above
                bar_chart(
                    registrations_over_time(event_id=event.pk, bucket=REGISTRATIONS_BUCKET),
                    title="Registrations per day (UTC)",
                    label_format="%b %d",
                )
            ),
            "refresh_seconds": EVENT_DAY_REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/core/event/day.html", context)

    def attendees_csv_view(self, request, object_id):
        """The event's attendees as a CSV download, in registration order."""
        event = self.get_object(request, unquote(object_id))
        if event is None:
            raise Http404("No event exists with this id.")
        if not (
            self.has_view_permission(request, event) and request.user.has_perm("core.view_attendee")
        ):
            raise PermissionDenied
        filename = f"{slugify(event.name) or 'event'}-{event.pk}-attendees.csv"
        return attendees_csv_response(event_attendees(event_id=event.pk), filename=filename)
