"""Attendee lists as CSV for spreadsheets, streamed, and safe to open in one."""

import csv
import json
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

from core.models import Attendee
from core.text import first_visible

HEADER = ["name", "email", "event", "registered at (UTC)", "answers"]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection), even when
# spaces or invisible characters come first, and reads a full-width form (＝) as the sign itself.
FORMULA_SIGNS = ("=", "+", "-", "@")
# A cell starting with a tab or a carriage return is prefixed whatever follows (OWASP's advice).
FORMULA_STARTS = ("\t", "\r")
# Lets Excel see UTF-8, so names like "Zoë" open as written.
BYTE_ORDER_MARK = "\ufeff"


def spreadsheet_safe(value: str) -> str:
    """`value`, with a leading apostrophe when a spreadsheet would take it for a formula."""
    # NFKC folds the full-width and small forms (＝ ﹦) into the ASCII signs.
    shown = unicodedata.normalize("NFKC", first_visible(value))
    return f"'{value}" if value.startswith(FORMULA_STARTS) or shown in FORMULA_SIGNS else value


def attendee_row(attendee: Attendee) -> list[str]:
    registered_at = attendee.registered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return [
        spreadsheet_safe(attendee.name),
        spreadsheet_safe(attendee.email),
        spreadsheet_safe(attendee.event.name),
        registered_at,
        # As given, by question id ({} when none), in JSON.
        spreadsheet_safe(json.dumps(attendee.answers, ensure_ascii=False)),
    ]


class _Line:
    """A file-like object whose write returns the line csv.writer hands it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(attendees: Iterable[Attendee]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield BYTE_ORDER_MARK + writer.writerow(HEADER)
    for attendee in attendees:
        yield writer.writerow(attendee_row(attendee))


def attendees_csv_response(attendees, *, filename: str) -> StreamingHttpResponse:
    """A CSV download of `attendees` (a queryset), one row each, read in chunks."""
    rows = attendees.select_related("event").iterator(chunk_size=2000)
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
