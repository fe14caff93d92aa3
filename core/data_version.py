"""A number that moves after every committed change to events or attendees.

A reader may keep what it computed at one version and reuse it while the number stands.
On PostgreSQL the number is a sequence: advancing it takes no lock and never waits, so a
registration storm on one event does not queue other events' registrations behind it. On
other databases there is no version (None), and readers compute every answer afresh.
"""

import logging

from django.db import DatabaseError, connection, transaction

SEQUENCE = "core_data_version"


logger = logging.getLogger(__name__)


def data_version() -> int | None:
    """The current version, or None where versions are not kept."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        # A sequence never advanced reads last_value 1 as well as after its first nextval.
        cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {SEQUENCE}")
        return cursor.fetchone()[0]


def data_changed() -> None:
    """Advance the version once the current transaction commits (at once outside one).

    After the commit, not before: a reader that sees the new number is sure to see the change.
    Called many times in one transaction, it advances the version once.
    """
    if connection.vendor != "postgresql":
        return
    if connection.in_atomic_block and any(
        callback is _advance for _, callback, _ in connection.run_on_commit
    ):
        return
    # Robust: the write has committed; a failure here must not turn its answer into an error.
    transaction.on_commit(_advance, robust=True)


def _advance() -> None:
    try:
        _next_value()
    except DatabaseError:
        # The connection may have died after the commit; a new one gets the version moving,
        # so that no reader keeps an answer from before the write.
        logger.warning("Advancing the data version failed; retrying on a new connection")
        connection.close()
        _next_value()


def _next_value() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval('{SEQUENCE}')")
