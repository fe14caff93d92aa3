"""The site's reference pages are written from the API: every operation, every error code."""

import pytest

from api import reference
from api.exceptions import DOMAIN_ERROR_STATUS
from api.tests.test_docs import OPERATIONS
from core.exceptions import DomainError


@pytest.fixture(scope="module")
def schema() -> dict:
    return reference.openapi_schema()


def rows(page: str) -> dict[tuple[str, str], str]:
    found = {}
    for line in page.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            found[(cells[0], cells[1].strip("`"))] = line
    return found


def test_the_endpoints_page_shows_every_operation_with_its_answers(schema):
    page = reference.endpoints(schema)
    for path, method in OPERATIONS:
        assert f"`{method.upper()} {path}`" in page, (method, path)
    assert "| 409 |" in page
    assert "`event_full`" in page
    assert '"name": "Ada Lovelace"' in page


def test_the_error_table_has_every_domain_error_with_its_status_and_message(schema):
    table = rows(reference.errors(schema))
    for kind in DomainError.__subclasses__():
        status = str(DOMAIN_ERROR_STATUS.get(kind, 409))
        assert (status, kind.code) in table, kind
        assert kind.message in table[(status, kind.code)], kind


def test_the_error_table_has_every_code_an_operation_declares(schema):
    table = rows(reference.errors(schema))
    declared = {(str(status), code) for status, code in reference.declared_errors(schema)}
    assert declared <= set(table)
    assert ("405", "method_not_allowed") in table
    assert ("503", "service_unavailable") in table


def test_a_code_raised_but_declared_by_no_operation_stops_the_build(schema, monkeypatch):
    raised = reference.raised_errors()
    extra = reference.Raised(409, "seat_on_fire", "core.exceptions.SeatOnFire", "It burns.")
    monkeypatch.setattr(reference, "raised_errors", lambda: [*raised, extra])
    with pytest.raises(SystemExit, match="seat_on_fire"):
        reference.errors(schema)
