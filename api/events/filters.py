"""Query-string filters for the event list: search, location, a start-time window, ordering."""

from django import forms
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower, Upper
from django_filters import fields, filters
from django_filters.rest_framework import DjangoFilterBackend, FilterSet

from api.datetimes import InvalidDateTime, parse_aware_datetime
from core.models import Event

BLANK_FILTER_MESSAGE = "Give a value, or leave this parameter out."
EMPTY_WINDOW_MESSAGE = "starts_before must be later than starts_after."

# A search costs one LIKE per word, so the words and the text are bounded.
SEARCH_MAX_WORDS = 32
SEARCH_MAX_LENGTH = 300
TOO_MANY_WORDS_MESSAGE = f"Search for at most {SEARCH_MAX_WORDS} words."

ORDERINGS = {
    "start_time": ("start_time", "id"),
    "-start_time": ("-start_time", "id"),
    # Names sort case-insensitively, the same way on SQLite and PostgreSQL.
    "name": (Lower("name").asc(), "id"),
    "-name": (Lower("name").desc(), "id"),
}


class AwareDateTimeFormField(forms.Field):
    """A query-string datetime read by api.datetimes.parse_aware_datetime; cleaned to UTC."""

    default_error_messages = {"blank": BLANK_FILTER_MESSAGE}

    def to_python(self, value):
        if value is None:
            return None
        if not value.strip():
            raise forms.ValidationError(self.error_messages["blank"], code="blank")
        try:
            return parse_aware_datetime(value)
        except InvalidDateTime as error:
            # django-filter %-formats every message, so this one travels as a parameter.
            raise forms.ValidationError(
                "%(message)s", code=error.code, params={"message": error.message}
            ) from None


class AwareDateTimeFilter(filters.IsoDateTimeFilter):
    """Compares `start_time` with an offset-carrying ISO 8601 datetime."""

    field_class = AwareDateTimeFormField


class NonBlankChoiceField(fields.ChoiceField):
    """A choice that, once the parameter is present, must be one of the choices."""

    def clean(self, value):
        if value is not None and not value.strip():
            raise forms.ValidationError(BLANK_FILTER_MESSAGE, code="blank")
        return super().clean(value)


class OrderingFilter(filters.ChoiceFilter):
    """`?ordering=` from a fixed list; an unknown value is an error, never ignored."""

    field_class = NonBlankChoiceField


class SearchWordsField(forms.CharField):
    """Search text, cleaned to its words: at most SEARCH_MAX_LENGTH characters and
    SEARCH_MAX_WORDS words."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH)
        super().__init__(*args, **kwargs)

    def clean(self, value):
        words = (super().clean(value) or "").split()
        if len(words) > SEARCH_MAX_WORDS:
            raise forms.ValidationError(TOO_MANY_WORDS_MESSAGE, code="max_words")
        return words


class SearchFilter(filters.CharFilter):
    """`?search=`: words that must each appear in the event's name or location."""

    field_class = SearchWordsField


class EventFilterForm(forms.Form):
    """Checks the start-time window as a whole, once each bound is valid on its own."""

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("starts_after"), cleaned.get("starts_before")
        if after is not None and before is not None and before <= after:
            self.add_error("starts_before", EMPTY_WINDOW_MESSAGE)
        return cleaned


class EventFilter(FilterSet):
    """The filters of `GET /api/events/`; every one narrows the upcoming events."""

    search = SearchFilter(
        method="filter_search",
        help_text=(
            "Words that must each appear in the event's name or location, ignoring case: "
            f"`?search=django+berlin`. At most {SEARCH_MAX_WORDS} words and "
            f"{SEARCH_MAX_LENGTH} characters."
        ),
    )
    location = filters.CharFilter(
        field_name="location",
        lookup_expr="icontains",
        help_text="Text the location contains, ignoring case: `?location=berlin`.",
    )
    starts_after = AwareDateTimeFilter(
        field_name="start_time",
        lookup_expr="gt",
        help_text=(
            "Only events that start strictly after this instant. ISO 8601 with a UTC offset "
            "(`Z` or `+05:30`, written `%2B05:30` in a URL)."
        ),
    )
    starts_before = AwareDateTimeFilter(
        field_name="start_time",
        lookup_expr="lt",
        help_text=(
            "Only events that start strictly before this instant. ISO 8601 with a UTC offset; "
            "must be later than `starts_after` when both are given."
        ),
    )
    ordering = OrderingFilter(
        choices=[(key, key) for key in ORDERINGS],
        empty_label=None,
        method="filter_ordering",
        help_text=(
            "Sort order; `-` reverses it. Ties are broken by id. "
            "Default: `start_time` (soonest first)."
        ),
    )

    class Meta:
        model = Event
        fields = ["search", "location", "starts_after", "starts_before", "ordering"]
        form = EventFilterForm

    def filter_search(self, queryset: QuerySet, name: str, words: list[str]) -> QuerySet:
        # One filter with every word, not one filter per word: building the query stays
        # linear in the words. Both sides are upper-cased by the database, as the index is.
        matches = [Q(search_text__contains=Upper(Value(word))) for word in words]
        return queryset.filter(*matches) if matches else queryset

    def filter_ordering(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*ORDERINGS[value])


class ListFilterBackend(DjangoFilterBackend):
    """django-filter on the list and its calendar feed only: a detail or action URL names its
    row."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not any(
            name in request.query_params for name in filterset_class.base_filters
        ):
            # No filter asked for: building and validating a FilterSet would change nothing,
            # and would cost more than the rest of the request.
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset_class(self, view, queryset=None):
        if getattr(view, "action", None) not in ("list", "feed"):
            return None
        return super().get_filterset_class(view, queryset)
