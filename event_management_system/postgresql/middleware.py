"""Which statement bound a request's statements get (see base.py): a read's or a write's."""

from django.db import connection

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadBoundMiddleware:
    """Marks a GET, HEAD or OPTIONS request's statements as reads, any other's as writes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bound_statements = getattr(connection, "bound_statements", None)
        if bound_statements is not None:  # PostgreSQL through this project's backend
            bound_statements(read=request.method in READ_METHODS)
        return self.get_response(request)
