"""Log lines as JSON objects or as human-readable text, from structlog and the standard library
alike, each carrying the id of the request it was written for.

settings.LOGGING names `formatter` for its handler and LOGGING_CONFIG names `configure`, so
Django sets both up at start-up. Every line holds `time` (UTC, ISO 8601), `level`, `logger`,
`event` (the message) and, while a request is being answered, `request_id` (bound by
ops.requests); lines written with an exception hold it too (`exception`).
"""

import logging.config
from datetime import UTC, datetime

import orjson
import structlog

REQUEST_FIELDS = "request_fields"


def add_request_fields(logger, method_name, event_dict: dict) -> dict:
    """A standard-library line's own fields: the dict passed as `extra={"request_fields": ...}`."""
    fields = getattr(event_dict.get("_record"), REQUEST_FIELDS, None)
    if fields:
        event_dict.update(fields)
    return event_dict


def hide_request_path(logger, method_name, event_dict: dict) -> dict:
    """Django's own lines about a request name its path ("Internal Server Error: /api/..."), and
    a registration's path holds its token: such a line names the route the path matched instead.
    """
    record = event_dict.get("_record")
    path = getattr(getattr(record, "request", None), "path", None)
    message = event_dict.get("event")
    if path and isinstance(message, str) and path in message:
        # Imported here: this module is loaded while logging is set up, before the apps.
        from event_management_system.ops.requests import route_of

        view, route = route_of(record.request)
        event_dict["event"] = message.replace(path, route or view)
    return event_dict


# What every line gets, whether written through structlog or through the standard library.
_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]

_WITHOUT_REQUEST_CONTEXT = [
    step for step in _SHARED if step is not structlog.contextvars.merge_contextvars
]


def _dumps(value, **kwargs) -> str:
    # default=str: an object no JSON type fits is logged by its text, not dropped with an error.
    return orjson.dumps(value, default=str).decode()


class JSONFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with a short way for the one line per request: the same fields,
    written without the processor chain, which costs several times more on every request."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, REQUEST_FIELDS, None)
        if fields is None or record.exc_info:
            return super().format(record)
        return _dumps(
            {
                "event": record.getMessage(),
                **structlog.contextvars.get_contextvars(),
                "logger": record.name,
                "level": record.levelname.lower(),
                "time": _timestamp(record),
                **fields,
            }
        )


class ConsoleFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's console rendering, with a short way for the one line per request: the text
    ConsoleRenderer writes (colours off), without the processor chain and the renderer, which
    cost several times more than the rest of a cached answer."""

    LEVEL_WIDTH = 9  # the longest level's name, "exception", as ConsoleRenderer pads
    EVENT_WIDTH = 30  # ConsoleRenderer's pad_event

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, REQUEST_FIELDS, None)
        if fields is None or record.exc_info:
            return super().format(record)
        values = {**structlog.contextvars.get_contextvars(), **fields}
        pairs = " ".join(f"{key}={_shown(value)}" for key, value in sorted(values.items()))
        return (
            f"{_timestamp(record)} [{record.levelname.lower():<{self.LEVEL_WIDTH}}] "
            f"{record.getMessage():<{self.EVENT_WIDTH}} [{record.name}] {pairs}"
        )


# A text holding one of these is quoted by ConsoleRenderer, as any other value is.
_QUOTED = frozenset(" \t=\r\n\"'")


def _shown(value) -> str:
    if isinstance(value, str) and not _QUOTED.intersection(value):
        return value
    return repr(value)


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


class StreamHandler(logging.StreamHandler):
    """The standard library's, formatting a line before it takes the handler's lock: threads
    writing lines at once wait for each other's write only, not for each other's formatting."""

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - as logging.Handler.emit: reported, never raised
            self.handleError(record)
            return True
        with self.lock:
            try:
                self.stream.write(line)
                self.flush()
            except Exception:  # noqa: BLE001 - likewise
                self.handleError(record)
        return True


def formatter(format: str, *, request_context: bool = True) -> logging.Formatter:  # noqa: A002 - dictConfig passes it by name
    """The handler's formatter: one JSON object per line, or structlog's console rendering.

    Without `request_context`, lines carry none of the request's bound fields (`request_id`):
    for a writer whose lines are about no request of the app's, such as gunicorn's own, which a
    worker thread writes with the fields of the last request it answered still bound.
    """
    shared = _SHARED if request_context else _WITHOUT_REQUEST_CONTEXT
    if format == "json":
        return JSONFormatter(
            foreign_pre_chain=[*shared, add_request_fields, hide_request_path],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=_dumps),
            ],
        )
    # Plain tracebacks: a richer renderer would print each frame's local variables.
    console = structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback, timestamp_key="time"
    )
    return ConsoleFormatter(
        foreign_pre_chain=[*shared, add_request_fields, hide_request_path],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, console],
    )


def configure(config: dict) -> None:
    """Django's LOGGING_CONFIG: the standard library's dictConfig, and structlog set to hand its
    lines to the same handlers, so both are rendered by `formatter`."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(config)
    # Python's warnings too, so that a JSON log holds nothing but JSON lines.
    logging.captureWarnings(True)
