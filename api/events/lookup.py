"""How a view finds the event its address names."""

from django.http import Http404

from core.exceptions import EventNotFound

# The largest id an event can have (its primary key is a signed 64-bit integer).
LARGEST_ID = 2**63 - 1


def event_id_of(pk: str) -> int:
    """The event id a path names; one no event can have is answered as an unknown event, before
    any query could fail to convert it."""
    event_id = int(pk)
    if event_id > LARGEST_ID:
        raise EventNotFound
    return event_id


class EventLookupMixin:
    """An event by its numeric id in the path; an unknown one is EventNotFound, in the words
    every address of an event uses, not Django's."""

    lookup_value_regex = r"[0-9]+"

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise EventNotFound from None
