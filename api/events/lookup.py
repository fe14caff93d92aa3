"""How a view finds the event its address names."""

from django.http import Http404

from core.exceptions import EventNotFound


class EventLookupMixin:
    """An event by its numeric id in the path; an unknown one is EventNotFound, in the words
    every address of an event uses, not Django's."""

    lookup_value_regex = r"[0-9]+"

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise EventNotFound from None
