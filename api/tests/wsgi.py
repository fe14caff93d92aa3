"""Calling the application gunicorn serves (event_management_system.wsgi) as gunicorn does, with
a WSGI environ, and telling whether Django's handler answered or the application on its own."""

from io import BytesIO

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from api import caching
from api.registrations import direct
from event_management_system.wsgi import django_application, front


class Answer:
    """What a client receives: the status line, the headers, the body; and whether Django's
    handler answered it, or the application on its own."""

    def __init__(self, status: str, headers: list, body: bytes, through_django: bool):
        self.status = status
        self.headers = headers
        self.body = body
        self.through_django = through_django

    @property
    def status_code(self) -> int:
        return int(self.status.split()[0])

    def headers_but_the_request_id(self) -> list:
        return [(name, value) for name, value in self.headers if name != "X-Request-ID"]

    def headers_of_any_answer(self) -> list:
        """The headers but those that belong to this answer alone (its id and length)."""
        return sorted(
            (name, value)
            for name, value in self.headers
            if name not in ("X-Request-ID", "Content-Length")
        )

    def header(self, name: str) -> str:
        return dict(self.headers)[name]


def call_wsgi(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    environ=None,
    django=django_application,
    **headers,
) -> Answer:
    """The answer to one request; `headers` by their WSGI names (HTTP_ACCEPT, CONTENT_TYPE) or
    without the HTTP_ (accept), `environ` any further keys. `django` is the handler behind the
    answers given before it: the one gunicorn serves unless a test built one after changing the
    settings its middleware reads once."""
    meta = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(body),
        "wsgi.errors": BytesIO(),
        **({"CONTENT_LENGTH": str(len(body))} if body else {}),
        **(environ or {}),
    }
    for name, value in headers.items():
        name = name.upper()
        kept = name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")
        meta[name if kept else f"HTTP_{name}"] = value
    sent = []
    through_django = []

    def django_counted(environ, start_response):
        through_django.append(True)
        return django(environ, start_response)

    # As Django's test client does: the test's transaction holds the connection, which a
    # request's start and end must not close.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    caching.close_old_connections = direct.close_old_connections = lambda: None
    try:
        result = front(django_counted)(
            meta, lambda status, headers, *exc: sent.append((status, headers))
        )
        content = b"".join(result)
        if hasattr(result, "close"):
            result.close()
    finally:
        caching.close_old_connections = direct.close_old_connections = close_old_connections
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, headers = sent[-1]
    return Answer(status, headers, content, through_django=bool(through_django))
