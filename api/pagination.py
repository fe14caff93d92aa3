"""Page-number pagination: `?page` and `?page_size` (REST_FRAMEWORK's PAGE_SIZE unless given,
at most MAX_PAGE_SIZE)."""

from collections.abc import Callable

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from event_management_system.paths import API_PREFIX

MAX_PAGE_SIZE = 100
PAGE_SIZE_MESSAGE = (
    f"Give a whole number of results per page, from 1; above {MAX_PAGE_SIZE} counts as "
    f"{MAX_PAGE_SIZE}."
)


class Counted:
    """A queryset whose row count comes from somewhere cheaper than `COUNT(*)` over it.

    Django's Paginator asks `count()` first, so a page number past the end is refused before
    any row is read, and then slices for the page alone.
    """

    ordered = True

    def __init__(self, queryset: QuerySet, count: Callable[[], int]):
        self.queryset = queryset
        self._count = count

    def count(self) -> int:
        return self._count()

    def __getitem__(self, index):
        return self.queryset[index]


class PageNumberPagination(pagination.PageNumberPagination):
    """`{count, next, previous, results}` pages of PAGE_SIZE rows; clients may ask for up to
    MAX_PAGE_SIZE."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    page_query_description = "A page number, from 1."
    page_size_query_description = (
        f"Results per page: a whole number from 1, {api_settings.PAGE_SIZE} unless given; above "
        f"{MAX_PAGE_SIZE} counts as {MAX_PAGE_SIZE}. Anything else answers 400 `invalid`."
    )

    def get_page_size(self, request) -> int:
        """`?page_size=`, capped at max_page_size; ValidationError on it below 1 or not a number."""
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        try:
            size = int(text)
        except ValueError:
            size = 0
        if size < 1:
            # A size the client did not ask for would be a silent surprise: refuse it instead.
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_MESSAGE]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        # DRF's examples point at an unrelated sample API; these match ours.
        properties = paginated["properties"]
        properties["count"]["example"] = 42
        properties["next"]["example"] = f"http://127.0.0.1:8000{API_PREFIX}events/?page=3"
        properties["previous"]["example"] = f"http://127.0.0.1:8000{API_PREFIX}events/?page=1"
        return paginated
