"""The one rule for a datetime the API reads, in a body or a query string: ISO 8601 with an offset.

`parse_aware_datetime` is the parser; the serializer field and the filter field both call it
and turn its one error type into their own, so both answer with the same codes and messages.
"""

from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

# An instant a day inside Python's datetime range can be shown in every time zone (`?tz=`);
# one closer to the edge cannot be in some, and would make every response showing it fail.
EARLIEST_INSTANT = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST_INSTANT = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)

INVALID_DATETIME_MESSAGE = (
    "Enter an ISO 8601 datetime with a UTC offset, e.g. 2031-03-15T09:00:00Z "
    "(in a URL, write + as %2B: 2031-03-15T09:00:00%2B05:30)."
)
NAIVE_DATETIME_MESSAGE = (
    "Add a UTC offset to this datetime, e.g. 2030-03-15T09:00:00Z or 2030-03-15T14:30:00+05:30."
)
OUT_OF_RANGE_DATETIME_MESSAGE = (
    "This datetime is out of the supported range: "
    f"{EARLIEST_INSTANT:%Y-%m-%d} to {LATEST_INSTANT:%Y-%m-%d}, in UTC."
)
MESSAGES = {
    "invalid": INVALID_DATETIME_MESSAGE,
    "naive": NAIVE_DATETIME_MESSAGE,
    "out_of_range": OUT_OF_RANGE_DATETIME_MESSAGE,
}


class InvalidDateTime(ValueError):
    """A datetime the API cannot take; `code` is invalid, naive or out_of_range."""

    def __init__(self, code: str):
        self.code = code
        self.message = MESSAGES[code]
        super().__init__(self.message)


def parse_aware_datetime(text: str) -> datetime:
    """The instant `text` names, in UTC, or InvalidDateTime saying why there is none.

    `text` is ISO 8601 with its UTC offset (`Z`, `+05:30`); surrounding spaces are ignored. The
    instant lies between EARLIEST_INSTANT and LATEST_INSTANT.
    """
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:  # well-formed but impossible, e.g. February 30th or minute 99
        parsed = None
    if parsed is None:
        raise InvalidDateTime("invalid")
    if parsed.tzinfo is None:
        raise InvalidDateTime("naive")
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:  # before year 1 or after year 9999 once in UTC
        raise InvalidDateTime("out_of_range") from None
    if not EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
        raise InvalidDateTime("out_of_range")
    return instant
