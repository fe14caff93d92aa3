"""Replace every event and attendee with the contents of two CSV files, all or nothing; the
rows that refer to the old ones (emails, stored answers, queued tasks) go with them.

events.csv:    key,name,location,start_time,end_time,max_capacity
attendees.csv: event_key,name,email

Attendee rows name their event by its `key`, which is stable across reloads where database
ids are not. Rows are checked one by one and written in batches inside one transaction; the
first bad row stops the load with its file and line, and the database stays as it was.
Memory grows with the number of events, not with the number of attendees.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import SET_NULL, Model, QuerySet

from core.emails import normalize_email
from core.models import Attendee, Event, IdempotencyKey
from core.selectors import is_registered
from core.text import BLANK_TEXT_MESSAGE, is_blank

EVENT_COLUMNS = ("key", "name", "location", "start_time", "end_time", "max_capacity")
ATTENDEE_COLUMNS = ("event_key", "name", "email")
BATCH_SIZE = 2000


class SampleDataError(Exception):
    """A row of the sample data cannot be loaded; the message names its file and line."""


@dataclass(frozen=True)
class LoadResult:
    events: int
    attendees: int


@dataclass
class LoadedEvent:
    id: int
    max_capacity: int
    attendees: int = 0


def load_sample_data(
    *, events_path: Path, attendees_path: Path, batch_size: int = BATCH_SIZE
) -> LoadResult:
    """Clear all events and attendees and the rows that refer to them, then load both files;
    raise SampleDataError on a bad row."""
    with transaction.atomic():
        _delete_all()
        events = _load_events(events_path, batch_size)
        attendee_count = _load_attendees(attendees_path, events, batch_size)
    return LoadResult(events=len(events), attendees=attendee_count)


def _delete_all() -> None:
    """Delete every event, every row that refers to one, and what answers or sends for them.

    Rows that refer to an event or an attendee through a foreign key are found from the models
    (`_clearing_statements`), so a table added later is cleared without being named here.
    Rows that refer to them without one are named in `_unlinked_leftovers`.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement whatever the number of rows: a DELETE would check every deleted
            # event against each table referring to it, one lookup per row and table, which
            # outgrows a statement's time limit with a large catalogue. The tables' statement
            # triggers move the change versions and free the seats (core/sql/versions.py,
            # core/sql/counters.py); the tables referring to an event, however deep, go with it.
            # Checks deferred by earlier statements of an enclosing transaction are made first:
            # TRUNCATE refuses to run while any is pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(Event._meta.db_table)} CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for statement in _clearing_statements(Event):
                cursor.execute(statement)
    for leftovers in _unlinked_leftovers():
        leftovers.delete()


def _clearing_statements(model: type[Model], where: str = "") -> Iterator[str]:
    """The statements deleting the rows of `model` that match `where` (SQL on its table; all
    rows when empty), preceded by those clearing the rows that refer to them, however deep.

    One statement per table, none naming a row: a queryset delete() would read every event and
    name them all in one statement, which PostgreSQL refuses beyond 65,535 of them. A foreign
    key declared SET_NULL is emptied rather than its row deleted. The database triggers free the
    seats and move the change versions as for any other delete.
    """
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    for relation in model._meta.get_fields(include_hidden=True):
        # Reverse foreign keys and one-to-one links, through tables of many-to-many fields
        # included; a many-to-many field's own entry has its through table's key for that.
        if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
            continue
        referring = relation.related_model
        if referring is model:
            continue  # a self-reference goes with the rows themselves
        key = quote(relation.field.column)
        if where:
            target = quote(relation.field.target_field.column)
            condition = f"{key} IN (SELECT {target} FROM {table} WHERE {where})"
        else:
            condition = f"{key} IS NOT NULL"
        if relation.on_delete is SET_NULL:
            yield f"UPDATE {quote(referring._meta.db_table)} SET {key} = NULL WHERE {condition}"
        else:
            yield from _clearing_statements(referring, condition)
    yield f"DELETE FROM {table}" + (f" WHERE {where}" if where else "")


def _unlinked_leftovers() -> list[QuerySet]:
    """Rows that describe events or attendees without a foreign key to them: stored answers
    to POSTs (a replayed one would name a registration that is gone)."""
    return [IdempotencyKey.objects.all()]


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (where, row) for each data row, stripped, after checking the header."""
    name = path.name
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise SampleDataError(f"{path}: cannot be read ({error.strerror}).") from error
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in columns if column not in header]
        if missing:
            raise SampleDataError(f"{name}:1: missing column(s): {', '.join(missing)}.")
        for row in reader:
            where = f"{name}:{reader.line_num}"
            if None in row:
                raise SampleDataError(f"{where}: more values than the header has columns.")
            empty = [column for column in columns if row.get(column) is None]
            if empty:
                raise SampleDataError(f"{where}: missing value for {', '.join(empty)}.")
            yield where, {column: row[column].strip() for column in columns}


def _parse_datetime(where: str, column: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SampleDataError(
            f"{where}: {column} {text!r} is not an ISO 8601 datetime such as 2030-03-15T09:00:00Z."
        ) from None
    if value.tzinfo is None:
        raise SampleDataError(
            f"{where}: {column} {text!r} has no UTC offset; add one, e.g. 2030-03-15T09:00:00Z."
        )
    return value


def _parse_capacity(where: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SampleDataError(f"{where}: max_capacity {text!r} is not a whole number.") from None


def _check(where: str, instance: Event | Attendee, exclude: list[str]) -> None:
    """Run the model's own field and cross-field rules, reporting the first failure."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise SampleDataError(f"{where}: {field}: {' '.join(messages)}") from None


def _check_visible(where: str, row: dict[str, str], columns: list[str]) -> None:
    """Refuse a text column that shows nothing, as an empty one is refused."""
    for column in columns:
        if is_blank(row[column]):
            raise SampleDataError(f"{where}: {column}: {BLANK_TEXT_MESSAGE}")


def _load_events(path: Path, batch_size: int) -> dict[str, LoadedEvent]:
    events: dict[str, LoadedEvent] = {}
    batch: list[tuple[str, Event]] = []

    def flush() -> None:
        created = Event.objects.bulk_create([event for _, event in batch])
        for (key, _), event in zip(batch, created, strict=True):
            events[key] = LoadedEvent(id=event.pk, max_capacity=event.max_capacity)
        batch.clear()

    pending_keys: set[str] = set()
    for where, row in _rows(path, EVENT_COLUMNS):
        key = row["key"]
        if not key:
            raise SampleDataError(f"{where}: key is empty.")
        if key in events or key in pending_keys:
            raise SampleDataError(f"{where}: key {key!r} appears more than once.")
        event = Event(
            name=row["name"],
            location=row["location"],
            start_time=_parse_datetime(where, "start_time", row["start_time"]),
            end_time=_parse_datetime(where, "end_time", row["end_time"]),
            max_capacity=_parse_capacity(where, row["max_capacity"]),
        )
        _check(where, event, exclude=[])
        _check_visible(where, row, ["name", "location"])
        batch.append((key, event))
        pending_keys.add(key)
        if len(batch) >= batch_size:
            flush()
            pending_keys.clear()
    flush()
    return events


def _load_attendees(path: Path, events: dict[str, LoadedEvent], batch_size: int) -> int:
    total = 0
    batch: list[tuple[str, str, Attendee]] = []
    seen_in_batch: set[tuple[int, str]] = set()

    for where, row in _rows(path, ATTENDEE_COLUMNS):
        event = events.get(row["event_key"])
        if event is None:
            raise SampleDataError(f"{where}: event_key {row['event_key']!r} is not in events.csv.")
        attendee = Attendee(event_id=event.id, name=row["name"], email=_parse_email(where, row))
        _check(where, attendee, exclude=["event"])
        _check_visible(where, row, ["name"])
        identity = (event.id, attendee.email.lower())
        if identity in seen_in_batch:
            raise _duplicate(where, row["email"])
        if event.attendees >= event.max_capacity:
            raise SampleDataError(
                f"{where}: event {row['event_key']!r} is already at its capacity of "
                f"{event.max_capacity}."
            )
        event.attendees += 1
        seen_in_batch.add(identity)
        batch.append((where, row["email"], attendee))
        if len(batch) >= batch_size:
            total += _insert_attendees(batch)
            batch.clear()
            seen_in_batch.clear()
    total += _insert_attendees(batch)
    return total


def _insert_attendees(batch: list[tuple[str, str, Attendee]]) -> int:
    """Insert one batch; an email registered by an earlier batch is reported by its line."""
    try:
        with transaction.atomic():
            Attendee.objects.bulk_create([attendee for _, _, attendee in batch])
    except IntegrityError:
        for where, written, attendee in batch:
            if is_registered(event_id=attendee.event_id, email=attendee.email):
                raise _duplicate(where, written) from None
        raise
    return len(batch)


def _parse_email(where: str, row: dict[str, str]) -> str:
    """The row's email as stored and compared (core.emails.normalize_email)."""
    try:
        return normalize_email(row["email"])
    except ValidationError as error:
        raise SampleDataError(f"{where}: email: {' '.join(error.messages)}") from None


def _duplicate(where: str, written: str) -> SampleDataError:
    """The error for a repeated email, shown as the file writes it."""
    return SampleDataError(f"{where}: email {written!r} is already registered for this event.")
