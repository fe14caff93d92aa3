"""Admin pages as a person reads and fills them, and what another request may do meanwhile."""

from html.parser import HTMLParser

import pytest
from django.db import connection

from core.admin import forms
from core.models import Event
from core.services import Registration, register_attendee
from core.tests.racing import race


class _Tables(HTMLParser):
    """Collects every table row as {cell class: text}, and every error shown on the page."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.errors: list[str] = []
        self._cell: str | None = None
        self._in_error = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "tr":
            self.rows.append({})
        elif tag in ("td", "th") and self.rows:
            fields = [c.removeprefix("field-") for c in classes if c.startswith("field-")]
            self._cell = (fields or classes or [tag])[0]
            self.rows[-1][self._cell] = ""
        elif tag == "ul" and "errorlist" in classes:
            self._in_error += 1
        elif tag == "li" and self._in_error:
            self.errors.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "ul" and self._in_error:
            self._in_error -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self.rows[-1][self._cell] += data
        if self._in_error and self.errors:
            self.errors[-1] += data


def parse(response) -> _Tables:
    page = _Tables()
    page.feed(response.content.decode())
    return page


def result_rows(response) -> list[dict[str, str]]:
    """The changelist's rows, each cell's text under its field name."""
    return [
        {name: text.strip() for name, text in row.items()}
        for row in parse(response).rows
        if "action-checkbox" in row
    ]


def errors(response) -> list[str]:
    return [text.strip() for text in parse(response).errors if text.strip()]


def messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def split_datetime(prefix: str, value) -> dict[str, str]:
    return {f"{prefix}_0": value.strftime("%Y-%m-%d"), f"{prefix}_1": value.strftime("%H:%M:%S")}


def event_form(event: Event, *, new=(), delete=(), new_questions=(), **changes) -> dict[str, str]:
    """The event's change form as submitted: its fields, its question rows, its attendee rows
    and its waiting-list rows, rows to add or delete.

    `new` holds (name, email) pairs typed into added rows; `delete` the attendees ticked, seated
    or waiting; `new_questions` dicts of question fields typed into added question rows.
    """
    fields = {
        "name": event.name,
        "location": event.location,
        "start_time": event.start_time,
        "end_time": event.end_time,
        "max_capacity": event.max_capacity,
    } | changes
    data = {
        "name": fields["name"],
        "location": fields["location"],
        "max_capacity": str(fields["max_capacity"]),
        **split_datetime("start_time", fields["start_time"]),
        **split_datetime("end_time", fields["end_time"]),
    }
    attendees = list(event.attendees.filter(status="registered").order_by("id")) if event.pk else []
    waiting = list(event.attendees.filter(status="waitlisted").order_by("id")) if event.pk else []
    pending = list(event.attendees.filter(status="pending").order_by("id")) if event.pk else []
    for index, attendee in enumerate(attendees):
        data[f"attendees-{index}-id"] = str(attendee.pk)
        data[f"attendees-{index}-event"] = str(event.pk)
        if attendee in delete:
            data[f"attendees-{index}-DELETE"] = "on"
    for index, (name, email) in enumerate(new, start=len(attendees)):
        data[f"attendees-{index}-event"] = str(event.pk)
        data[f"attendees-{index}-name"] = name
        data[f"attendees-{index}-email"] = email
    questions = list(event.questions.order_by("position", "id")) if event.pk else []
    for index, question in enumerate(questions):
        data[f"questions-{index}-id"] = str(question.pk)
        data[f"questions-{index}-event"] = str(event.pk)
        data[f"questions-{index}-label"] = question.label
        data[f"questions-{index}-kind"] = question.kind
        data[f"questions-{index}-choices"] = "\n".join(question.choices)
        data[f"questions-{index}-position"] = str(question.position)
        if question.required:
            data[f"questions-{index}-required"] = "on"
        if question.max_length is not None:
            data[f"questions-{index}-max_length"] = str(question.max_length)
    for index, fields in enumerate(new_questions, start=len(questions)):
        data[f"questions-{index}-event"] = str(event.pk)
        data[f"questions-{index}-position"] = "0"
        for name, value in fields.items():
            data[f"questions-{index}-{name}"] = value
    data |= {
        "questions-TOTAL_FORMS": str(len(questions) + len(new_questions)),
        "questions-INITIAL_FORMS": str(len(questions)),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "attendees-TOTAL_FORMS": str(len(attendees) + len(new)),
        "attendees-INITIAL_FORMS": str(len(attendees)),
        "attendees-MIN_NUM_FORMS": "0",
        "attendees-MAX_NUM_FORMS": "1000",
        # The waiting list's inline: the event's second of attendee rows.
        "attendees-2-TOTAL_FORMS": str(len(waiting)),
        "attendees-2-INITIAL_FORMS": str(len(waiting)),
        "attendees-2-MIN_NUM_FORMS": "0",
        "attendees-2-MAX_NUM_FORMS": "0",
        # The requests awaiting approval: the third, read-only.
        "attendees-3-TOTAL_FORMS": str(len(pending)),
        "attendees-3-INITIAL_FORMS": str(len(pending)),
        "attendees-3-MIN_NUM_FORMS": "0",
        "attendees-3-MAX_NUM_FORMS": "0",
        "_continue": "Save and continue editing",
    }
    for index, attendee in enumerate(waiting):
        data[f"attendees-2-{index}-id"] = str(attendee.pk)
        data[f"attendees-2-{index}-event"] = str(event.pk)
        if attendee in delete:
            data[f"attendees-2-{index}-DELETE"] = "on"
    for index, attendee in enumerate(pending):
        data[f"attendees-3-{index}-id"] = str(attendee.pk)
        data[f"attendees-3-{index}-event"] = str(event.pk)
    return data


# A registration the admin must refuse, with the reason it shows: (capacity, start in days,
# email, message), against an event that already holds ada@example.com.
refused_registrations = pytest.mark.parametrize(
    ("capacity", "start_in_days", "email", "refusal"),
    [
        (1, 5, "grace@example.com", "This event is full: every seat has been taken."),
        (5, 5, "ADA@example.COM", "This email address is already registered for this event."),
        (5, -1, "grace@example.com", "Registration is closed: this event has already started."),
    ],
    ids=["full", "duplicate", "closed"],
)


# On SQLite an admin submission holds the write lock from its first statement (transactions
# begin IMMEDIATE), so no other registration can come between its check and its save.
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="on SQLite no write can come between an admin form's check and its save",
)


def seat_taken_after_the_check(monkeypatch, event: Event) -> list[Registration | Exception]:
    """Have someone else register for `event` just after the admin's form checked it.

    The registration is made and committed on another connection, as another request would,
    before the form's submission is saved. The returned list receives its outcome.
    """
    check = forms.registration_refusal
    outcome: list[Registration | Exception] = []

    def check_then_someone_registers(**kwargs):
        refusal = check(**kwargs)
        if not outcome:
            outcome.extend(
                race(
                    1,
                    lambda _: register_attendee(
                        event_id=event.pk, name="Someone Else", email="else@example.com"
                    ),
                )
            )
        return refusal

    monkeypatch.setattr(forms, "registration_refusal", check_then_someone_registers)
    return outcome
