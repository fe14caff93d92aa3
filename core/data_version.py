"""A number that moves after every committed change to events or attendees.

A reader may keep what it computed at one version and reuse it while the number stands.
On PostgreSQL the number is a sequence: advancing it takes no lock and never waits, so a
registration storm on one event does not queue other events' registrations behind it. On
other databases there is no version (None), and readers compute every answer afresh.
"""

from django.db import connection, transaction

SEQUENCE = "core_data_version"


def data_version() -> int | None:
    """The current version, or None where versions are not kept."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {SEQUENCE}")
        return cursor.fetchone()[0]


def data_changed() -> None:
    """Advance the version once the current transaction commits (at once outside one).

    After the commit, not before: a reader that sees the new number is sure to see the change.
    """
    if connection.vendor == "postgresql":
        transaction.on_commit(_advance)


def _advance() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval('{SEQUENCE}')")
