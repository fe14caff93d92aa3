"""Change versions that PostgreSQL keeps for events (core/sql/versions.py), read for reuse
decisions.

A reader that records the versions of what it read, in the snapshot it read it from, may reuse
its answer for as long as the same versions read back: every committed change to what the
answer shows moves one of them, whoever made it. Other databases keep no versions.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.db import connection, transaction

from core.sql.cursors import unlogged_cursor


def versions_kept() -> bool:
    """Whether this database keeps change versions (PostgreSQL: core/sql/versions.py)."""
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class Stamp:
    """What an answer was computed from: some events' rows, and perhaps the event catalog.

    The catalog is which events exist, with the fields that decide a list's members and
    order (name, location, start time); a list's answer depends on it, one event's does not.
    """

    event_ids: tuple[int, ...]
    catalog: bool = False
    # Every event that starts after this time (a feed of upcoming events): read as the sum of
    # their versions, one index range read, instead of naming thousands of ids.
    starting_after: datetime | None = None

    @cached_property
    def ids_literal(self) -> str:
        """The ids as one array literal, '{1,2,3}': cheaper to send than an array parameter,
        and made once per stamp, not on every cache hit that reads it."""
        return "{" + ",".join(str(int(event_id)) for event_id in self.event_ids) + "}"


# The sum of some events' versions, one primary-key lookup each: the plan cannot turn into a
# scan of the table, whatever the planner's statistics say of it. A sum, not the newest:
# versions are numbered when written but seen when committed, so an event may commit a number
# below another's already seen, which the newest would hide; a sum still grows (a row's new
# number is above its old one, taken under its lock).
SUM_OF = (
    "SELECT sum((SELECT change_version FROM core_event WHERE core_event.id = wanted.id))"
    " FROM unnest(%s::text::bigint[]) AS wanted(id)"
)

SUM_OF_WITH_CATALOG = f"SELECT version, ({SUM_OF}) FROM core_event_catalog"

# The catalog's version and the sum of the versions of every event starting after a time (a
# sum, as above). Rows that come, go or move in time move the catalog.
SUM_STARTING_AFTER = (
    "SELECT version, (SELECT coalesce(sum(change_version), 0) FROM core_event"
    " WHERE start_time > %s) FROM core_event_catalog"
)


def read_versions(stamp: Stamp) -> tuple:
    """The versions `stamp` names, as they stand now: equal tuples mean nothing changed.

    Versions only grow, so the sum of some events' versions moves whenever any of them does.
    """
    with unlogged_cursor() as cursor:
        if stamp.starting_after is not None:
            cursor.execute(SUM_STARTING_AFTER, [stamp.starting_after])
            return tuple(cursor.fetchone())
        if len(stamp.event_ids) == 1 and not stamp.catalog:
            cursor.execute("SELECT change_version FROM core_event WHERE id = %s", stamp.event_ids)
            return tuple(cursor.fetchone() or (None,))
        if stamp.catalog:
            cursor.execute(SUM_OF_WITH_CATALOG, [stamp.ids_literal])
        else:
            cursor.execute(SUM_OF, [stamp.ids_literal])
        return tuple(cursor.fetchone())


def catalog_version() -> int:
    """The event catalog's version: moves when events come, go, or change name, place or time."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM core_event_catalog")
        return cursor.fetchone()[0]


@contextmanager
def snapshot() -> Iterator[None]:
    """Run the block's reads in one snapshot, so versions read last match the data read first.

    Read only and repeatable read: reads never block writers, and no write can slip between
    two of the block's reads. Inside a transaction already open, the block joins it.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
