"""The attendee admin: registering from it, removing, finding, and exporting as CSV."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.emails import INVALID_DOMAIN_MESSAGE
from core.models import Attendee
from core.services import Registration, register_attendee
from core.tests.admin_pages import (
    errors,
    messages,
    postgresql_only,
    refused_registrations,
    result_rows,
    seat_taken_after_the_check,
)
from core.text import BLANK_TEXT_MESSAGE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ATTENDEES = "/admin/core/attendee/"


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # so a spreadsheet reads the file as UTF-8
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def test_adding_an_attendee_registers_them(admin_client, event_factory):
    event = event_factory(max_capacity=2)

    response = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "Ada", "email": " ada@example.com "}
    )

    assert response.status_code == 302, errors(response)
    attendee = Attendee.objects.get()
    assert (attendee.event, attendee.name, attendee.email) == (event, "Ada", "ada@example.com")
    event.refresh_from_db()
    assert event.seats_taken == 1


@refused_registrations
def test_a_refused_registration_shows_why(
    admin_client, event_factory, attendee_factory, in_days, capacity, start_in_days, email, refusal
):
    event = event_factory(max_capacity=capacity, start_time=in_days(start_in_days))
    attendee_factory(event=event, name="Ada", email="ada@example.com")

    response = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "Grace", "email": email}
    )

    assert response.status_code == 200
    assert errors(response) == [refusal]
    event.refresh_from_db()
    assert event.seats_taken == event.attendees.count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_seat_taken_between_check_and_save_keeps_the_registration_out(
    admin_client, event_factory, monkeypatch
):
    event = event_factory(max_capacity=1)
    someone = seat_taken_after_the_check(monkeypatch, event)

    response = admin_client.post(
        f"{ATTENDEES}add/",
        {"event": event.pk, "name": "Grace", "email": "grace@example.com"},
        follow=True,
    )

    assert [type(result) for result in someone] == [Registration]  # the check had seen a seat free
    assert response.redirect_chain == [(f"{ATTENDEES}add/", 302)]
    assert messages(response) == [
        "Nothing was saved: This event is full: every seat has been taken."
    ]
    event.refresh_from_db()
    assert event.seats_taken == 1
    assert list(event.attendees.values_list("email", flat=True)) == ["else@example.com"]


def test_an_internationalised_domain_registers_once_in_ascii(admin_client, event_factory):
    event = event_factory()

    added = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "Idn", "email": "idn@bücher.de"}
    )
    again = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "Idn", "email": "IDN@xn--bcher-kva.de"}
    )

    assert added.status_code == 302, errors(added)
    assert again.status_code == 200
    assert errors(again) == ["This email address is already registered for this event."]
    assert list(Attendee.objects.values_list("email", flat=True)) == ["idn@xn--bcher-kva.de"]


def test_an_email_with_no_ascii_domain_is_a_form_error(admin_client, event_factory):
    event = event_factory()

    response = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "Ada", "email": "ada@xn--zz.de"}
    )

    assert response.status_code == 200
    assert errors(response) == [INVALID_DOMAIN_MESSAGE]
    assert not Attendee.objects.exists()


def test_a_name_of_invisible_characters_alone_is_refused(
    admin_client, event_factory, attendee_factory
):
    event = event_factory()
    ada = attendee_factory(event=event, name="Ada")

    added = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "\u200d\u2069", "email": "b@example.com"}
    )
    renamed = admin_client.post(f"{ATTENDEES}{ada.pk}/change/", {"name": "\u200b"})

    assert (added.status_code, renamed.status_code) == (200, 200)
    assert errors(added) == errors(renamed) == [BLANK_TEXT_MESSAGE]
    assert list(Attendee.objects.values_list("name", flat=True)) == ["Ada"]


def test_a_registration_refused_for_another_field_is_not_kept(admin_client, event_factory):
    event = event_factory()

    response = admin_client.post(
        f"{ATTENDEES}add/", {"event": event.pk, "name": "Ada" * 100, "email": "ada@example.com"}
    )

    assert response.status_code == 200
    assert errors(response) == ["Ensure this value has at most 200 characters (it has 300)."]
    assert not Attendee.objects.exists()


def test_editing_an_attendee_changes_only_the_name(admin_client, attendee_factory):
    ada = attendee_factory(name="Ada", email="ada@example.com")

    response = admin_client.post(
        f"{ATTENDEES}{ada.pk}/change/", {"name": "Ada Lovelace", "email": "eve@example.com"}
    )

    assert response.status_code == 302, errors(response)
    ada.refresh_from_db()
    assert (ada.name, ada.email) == ("Ada Lovelace", "ada@example.com")


def test_deleting_an_attendee_frees_the_seat(admin_client, event_factory, attendee_factory):
    event = event_factory(max_capacity=1)
    ada = attendee_factory(event=event)

    response = admin_client.post(f"{ATTENDEES}{ada.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.seats_taken == event.attendees.count() == 0


def test_deleting_selected_attendees_frees_their_seats(
    admin_client, event_factory, attendee_factory
):
    event = event_factory(max_capacity=3)
    ada, grace, alan = (attendee_factory(event=event) for _ in range(3))

    response = admin_client.post(
        ATTENDEES,
        {"action": "delete_selected", "_selected_action": [ada.pk, alan.pk], "post": "yes"},
    )

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.seats_taken == 1
    assert list(event.attendees.all()) == [grace]


def test_list_searches_name_and_email_and_filters_by_event(
    admin_client, event_factory, attendee_factory
):
    jazz, rust = event_factory(name="Jazz Night"), event_factory(name="RustConf")
    attendee_factory(event=jazz, name="Ada Lovelace", email="ada@example.com")
    attendee_factory(event=rust, name="Grace Hopper", email="grace@navy.example")
    attendee_factory(event=rust, name="Alan Turing", email="alan@example.com")

    def names(**params) -> list[str]:
        return sorted(row["name"] for row in result_rows(admin_client.get(ATTENDEES, params)))

    assert names(q="lovelace") == ["Ada Lovelace"]
    assert names(q="navy") == ["Grace Hopper"]
    assert names(event__id__exact=rust.pk) == ["Alan Turing", "Grace Hopper"]
    assert result_rows(admin_client.get(ATTENDEES, {"q": "ada"}))[0]["event"] == "Jazz Night"


def test_list_costs_the_same_queries_for_1_and_30_attendees(
    admin_client, event_factory, attendee_factory
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(ATTENDEES)
        assert response.status_code == 200
        return len(captured)

    event = event_factory()
    attendee_factory(event=event)
    one = queries()
    for _ in range(29):
        attendee_factory(event=event_factory())  # each on its own event
    thirty = queries()

    assert len(result_rows(admin_client.get(ATTENDEES))) == 30
    assert one == thirty


def test_export_action_downloads_the_selected_attendees(
    admin_client, event_factory, attendee_factory, in_days
):
    jazz = event_factory(name="Jazz Night", start_time=in_days(3))
    rust = event_factory(name="RustConf", start_time=in_days(9))
    ada = attendee_factory(
        event=rust, name="Ada Lovelace", email="ada@example.com", answers={"4": "vegan"}
    )
    grace = attendee_factory(event=jazz, name="Grace Hopper", email="grace@example.com")
    attendee_factory(event=jazz, name="Not Selected")

    response = admin_client.post(
        ATTENDEES, {"action": "export_csv", "_selected_action": [ada.pk, grace.pk]}
    )

    assert response["Content-Disposition"] == 'attachment; filename="attendees.csv"'
    assert csv_rows(response) == [
        ["name", "email", "event", "registered at (UTC)", "answers"],
        [
            "Grace Hopper",
            "grace@example.com",
            "Jazz Night",
            grace.registered_at.strftime("%Y-%m-%d %H:%M:%S"),
            "{}",
        ],
        [
            "Ada Lovelace",
            "ada@example.com",
            "RustConf",
            ada.registered_at.strftime("%Y-%m-%d %H:%M:%S"),
            '{"4": "vegan"}',
        ],
    ]


@pytest.mark.parametrize(
    "start",
    [
        "=",
        "+",
        "-",
        "@",
        "\t",
        " =",
        "   +",
        "\u200b-",  # zero-width space
        "\ufeff@",  # byte order mark
        " \u200d\u2060=",  # space, zero-width joiner, word joiner
        "\u202e=",  # right-to-left override
        "＝",  # full-width forms
        "＋",
        "－",
        "＠",
        " \u200b＝",
    ],
)
def test_export_keeps_spreadsheets_from_running_cells_as_formulas(
    admin_client, event_factory, attendee_factory, start
):
    event = event_factory(name=f"{start}SUM(A1:A9)")
    attendee = attendee_factory(event=event, name=f'{start}HYPERLINK("http://x.example")')

    response = admin_client.post(
        ATTENDEES, {"action": "export_csv", "_selected_action": [attendee.pk]}
    )

    [_, row] = csv_rows(response)
    assert row[0] == f'\'{start}HYPERLINK("http://x.example")'
    assert row[2] == f"'{start}SUM(A1:A9)"


@pytest.mark.parametrize("name", [" Ada", "\u200bAda", "Ada-Lovelace", "Ada = Countess", "＄Ada"])
def test_export_leaves_text_that_is_no_formula_as_written(
    admin_client, event_factory, attendee_factory, name
):
    attendee = attendee_factory(name=name)

    response = admin_client.post(
        ATTENDEES, {"action": "export_csv", "_selected_action": [attendee.pk]}
    )

    [_, row] = csv_rows(response)
    assert row[0] == name


def test_event_page_offers_its_attendees_as_csv(admin_client, event_factory, attendee_factory):
    event = event_factory(name="Jazz Night: Live!")
    other = event_factory()
    for name in ["Ada", "Grace", "Zoë"]:
        attendee_factory(event=event, name=name, email=f"{name.lower()}@example.com")
    attendee_factory(event=other, name="Elsewhere")
    url = f"/admin/core/event/{event.pk}/attendees.csv"

    page = admin_client.get(f"/admin/core/event/{event.pk}/change/")
    response = admin_client.get(url)

    assert f'href="{url}"' in page.content.decode()
    assert response["Content-Disposition"] == (
        f'attachment; filename="jazz-night-live-{event.pk}-attendees.csv"'
    )
    rows = csv_rows(response)
    assert [row[:3] for row in rows[1:]] == [
        ["Ada", "ada@example.com", "Jazz Night: Live!"],
        ["Grace", "grace@example.com", "Jazz Night: Live!"],
        ["Zoë", "zoë@example.com", "Jazz Night: Live!"],
    ]


def test_event_csv_needs_a_known_event_and_permission(
    client, admin_client, django_user_model, event_factory
):
    event = event_factory()
    url = f"/admin/core/event/{event.pk}/attendees.csv"
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(clerk)

    assert admin_client.get("/admin/core/event/987654/attendees.csv").status_code == 404
    assert client.get(url).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_attendee"))
    assert client.get(url).status_code == 200


def test_deleting_a_seat_promotes_the_first_in_line(admin_client, event_factory):
    event = event_factory(max_capacity=1)
    for name in ["Ada", "Grace", "Alan"]:
        register_attendee(event_id=event.pk, name=name, email=f"{name}@example.com", waitlist=True)
    ada = event.attendees.get(name="Ada")
    listed = result_rows(admin_client.get(ATTENDEES, {"status__exact": "waitlisted"}))

    response = admin_client.post(f"{ATTENDEES}{ada.pk}/delete/", {"post": "yes"})

    assert [(row["name"], row["status"]) for row in listed] == [
        ("Grace", "Waitlisted"),
        ("Alan", "Waitlisted"),
    ]
    assert response.status_code == 302
    assert list(event.attendees.order_by("id").values_list("name", "status")) == [
        ("Grace", "registered"),
        ("Alan", "waitlisted"),
    ]
