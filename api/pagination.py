"""Page-number pagination: `?page` and `?page_size` (default 20, at most 100)."""

from collections.abc import Callable

from django.db.models import QuerySet
from rest_framework import pagination


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
    """`{count, next, previous, results}` pages; clients may ask for up to 100 rows."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    page_query_description = "A page number, from 1."
    page_size_query_description = "Results per page: 20 unless given, at most 100."

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        # DRF's examples point at an unrelated sample API; these match ours.
        properties = paginated["properties"]
        properties["count"]["example"] = 42
        properties["next"]["example"] = "http://127.0.0.1:8000/api/events/?page=3"
        properties["previous"]["example"] = "http://127.0.0.1:8000/api/events/?page=1"
        return paginated
