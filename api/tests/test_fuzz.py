"""Schema-driven fuzzing: every operation, generated requests, no 5xx, answers as documented.

Schemathesis reads /api/schema/ from the application gunicorn serves, in-process, and for each
operation sends the schema's examples, boundary cases and a bounded number of generated
requests (valid and invalid), then checks that no answer is a 5xx and that each status code,
content type and body is one the schema documents. Each operation starts from the same seeded
rows; half of the generated ids and zones are steered onto real ones so requests get past 404
and 400. Each operation is fuzzed three times: anonymously with open access on (the seed's way)
and off (production), and with the token of the organiser who owns the seeded events
(production). The counts (operations, cases, failures) are printed at the end of the session.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.tests.conftest import FuzzCounts
from api.tokens import issue_token
from core.services import register_attendee, save_question
from event_management_system.wsgi import application

# Bounded so the whole run stays short on two cores; deterministic, so a failure seen once is
# seen on every run.
FUZZ_CONFIG = {
    "seed": 20310315,
    "generation": {"mode": "all", "max-examples": 50, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The application gunicorn serves: the answers given before Django (a plain registration, a
# repeated read) are fuzzed with the rest.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", application, config=schemathesis.Config.from_dict(FUZZ_CONFIG)
)
REAL_ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Kiritimati", "Pacific/Niue"]
# Filled by `seeded_events` before any case of an operation is generated: the events' ids, and
# for each path parameter naming a row below an event, real values of it.
seeded_ids: list[int] = []
seeded_values: dict[str, list] = {"attendee_id": [], "token": [], "event_id": []}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Half of the ids (and tokens) name real rows, so operations get past their 404s. The row
    # is looked up when the case is drawn: the schema's own examples are drawn before any row
    # exists.
    if not path_parameters or not ({"id", *seeded_values} & set(path_parameters)):
        return st.just(path_parameters)

    def with_seeded_values(index: int) -> dict:
        seeded = {**path_parameters}
        if "id" in seeded and seeded_ids:
            seeded["id"] = seeded_ids[index % len(seeded_ids)]
        for name, values in seeded_values.items():
            if name in seeded and values:
                seeded[name] = values[index % len(values)]
        return seeded

    return st.one_of(st.just(path_parameters), st.integers(0, 19).map(with_seeded_values))


@schema.hook
def flatmap_query(context, query):
    # Half of the generated ?tz= values are real zones, the far east and west among them, so
    # requests get past the zone check and render in it.
    if not query or "tz" not in query:
        return st.just(query)
    zones = st.sampled_from(REAL_ZONES).map(lambda zone: {**query, "tz": zone})
    return st.one_of(st.just(query), zones)


@pytest.fixture
def organiser(transactional_db, fast_passwords, organiser_factory):
    return organiser_factory(username="fuzz-organiser")


@pytest.fixture
def seeded_events(organiser, event_factory, attendee_factory, in_days):
    """Rows for generated requests to land on: open, full (with a waiting list), started,
    well-attended and cancelled events, all the organiser's, and registrations with their
    tokens."""
    open_event = event_factory(
        name="Open Night", location="Dock 5, Hamburg", max_capacity=1000, owner=organiser
    )
    full = event_factory(name="Full House", location="Mesh, Oslo", max_capacity=1, owner=organiser)
    places = [register_attendee(event_id=full.pk, name="Seated", email="seated@example.com")]
    places += [
        register_attendee(
            event_id=full.pk, name="Waiting", email=f"waiting{i}@example.com", waitlist=True
        )
        for i in range(3)
    ]
    started = event_factory(start_time=in_days(-1), end_time=in_days(1), owner=organiser)
    attendee_factory(event=started)
    popular = event_factory(name="Popular", start_time=in_days(400), owner=organiser)
    for _ in range(25):
        attendee_factory(event=popular)
    cancelled = event_factory(name="Called Off", owner=organiser, status="cancelled")
    # Requests awaiting approval, for the pending list and its decisions to act on.
    approval = event_factory(
        name="By Invitation", location="Room 2", max_capacity=2, owner=organiser,
        requires_approval=True,
    )  # fmt: skip
    places += [
        register_attendee(event_id=approval.pk, name="Asking", email=f"asking{i}@example.com")
        for i in range(3)
    ]
    # Questions (the open event's ids double as question ids for the questions' paths).
    for position, kind in enumerate(("text", "boolean")):
        save_question(event_id=open_event.pk, label=f"Q{position}", kind=kind, position=position)
    seeded_ids[:] = [open_event.pk, full.pk, started.pk, popular.pk, cancelled.pk, approval.pk]
    seeded_values["event_id"][:] = seeded_ids
    seeded_values["attendee_id"][:] = [place.attendee.pk for place in places]
    seeded_values["token"][:] = [place.token for place in places]


@pytest.fixture(params=["anonymous, open access", "anonymous", "organiser"])
def caller_token(request, settings, organiser) -> str | None:
    """Who sends the generated requests, and whether the server runs with open access."""
    settings.API_OPEN_ACCESS = request.param == "anonymous, open access"
    return issue_token(user=organiser).token if request.param == "organiser" else None


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_answers_match_the_schema(
    case, seeded_events, caller_token, fuzz_counts: FuzzCounts
):
    fuzz_counts.operations.add(case.operation.label)
    fuzz_counts.cases += 1
    try:
        # The caller's own header, not one generated from the security scheme: a made-up token
        # would only ever meet the 401 (tests/test_tokens.py sends those on purpose).
        (case.headers or {}).pop("Authorization", None)
        headers = {"Authorization": f"Bearer {caller_token}"} if caller_token else {}
        case.call_and_validate(headers=headers, checks=CHECKS)
    except (Exception, BaseExceptionGroup):  # schemathesis reports failures as a group
        fuzz_counts.failures += 1
        raise
