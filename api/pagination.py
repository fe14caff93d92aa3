"""Page-number pagination: `?page` and `?page_size` (default 20, at most 100)."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`{count, next, previous, results}` pages; clients may ask for up to 100 rows."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
