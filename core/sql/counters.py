"""Triggers that keep `Event.seats_taken` and `Event.waitlist_taken` equal to the number of the
event's registered and waitlisted attendee rows.

Every insert, delete or move of an attendee row (a new event, a new status, or both) adjusts the
counters in the same statement, whoever issues it (a service, the admin, a bulk load, a
hand-written query), and the counters' check constraint refuses any change that would overbook:
a capacity check reads two integers under the event's lock instead of counting rows. On
PostgreSQL they are statement triggers over transition tables, and TRUNCATE zeroes the counters;
SQLite has row triggers only, which its backend keeps through a rebuild of either table
(event_management_system/sqlite3).

`SEATS_ONLY` is the first version (migration 0002), which counted every row as a seat;
migration 0008 replaced it with the current one.
"""

from core.models import AttendeeStatus

REGISTERED = AttendeeStatus.REGISTERED.value
WAITLISTED = AttendeeStatus.WAITLISTED.value

TRIGGERS = (
    "core_attendee_count_inserted",
    "core_attendee_count_deleted",
    "core_attendee_count_moved",
)

SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]

POSTGRESQL_DROP = "\n".join(
    [f"DROP TRIGGER IF EXISTS {name} ON core_attendee;" for name in TRIGGERS]
    + [f"DROP FUNCTION IF EXISTS {name}();" for name in TRIGGERS]
)

# The statement triggers over transition tables that call the functions below.
POSTGRESQL_TRIGGERS = """
CREATE TRIGGER core_attendee_count_inserted AFTER INSERT ON core_attendee
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION core_attendee_count_inserted();
CREATE TRIGGER core_attendee_count_deleted AFTER DELETE ON core_attendee
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION core_attendee_count_deleted();
CREATE TRIGGER core_attendee_count_moved AFTER UPDATE ON core_attendee
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION core_attendee_count_moved();
"""


class SEATS_ONLY:  # noqa: N801 - a namespace for one version of the SQL
    """Migration 0002's counter: every attendee row holds a seat."""

    POSTGRESQL = (
        """
CREATE FUNCTION core_attendee_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event AS event SET seats_taken = event.seats_taken + added.n
    FROM (SELECT event_id, count(*) AS n FROM inserted GROUP BY event_id) AS added
    WHERE event.id = added.event_id;
    RETURN NULL;
END $$;

CREATE FUNCTION core_attendee_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event AS event SET seats_taken = event.seats_taken - removed.n
    FROM (SELECT event_id, count(*) AS n FROM deleted GROUP BY event_id) AS removed
    WHERE event.id = removed.event_id;
    RETURN NULL;
END $$;

CREATE FUNCTION core_attendee_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The net change per event, whatever the statement changed; seats leave their old events
    -- before they arrive at new ones, so a move never passes through an overbooked state.
    UPDATE core_event AS event SET seats_taken = event.seats_taken + moved.n
    FROM (
        SELECT event_id, sum(n) AS n FROM (
            SELECT event_id, count(*) AS n FROM inserted GROUP BY event_id
            UNION ALL SELECT event_id, -count(*) FROM deleted GROUP BY event_id
        ) AS changes GROUP BY event_id HAVING sum(n) < 0
    ) AS moved
    WHERE event.id = moved.event_id;
    UPDATE core_event AS event SET seats_taken = event.seats_taken + moved.n
    FROM (
        SELECT event_id, sum(n) AS n FROM (
            SELECT event_id, count(*) AS n FROM inserted GROUP BY event_id
            UNION ALL SELECT event_id, -count(*) FROM deleted GROUP BY event_id
        ) AS changes GROUP BY event_id HAVING sum(n) > 0
    ) AS moved
    WHERE event.id = moved.event_id;
    RETURN NULL;
END $$;
"""
        + POSTGRESQL_TRIGGERS
    )

    SQLITE = [
        """CREATE TRIGGER core_attendee_count_inserted AFTER INSERT ON core_attendee
    BEGIN
        UPDATE core_event SET seats_taken = seats_taken + 1 WHERE id = NEW.event_id;
    END""",
        """CREATE TRIGGER core_attendee_count_deleted AFTER DELETE ON core_attendee
    BEGIN
        UPDATE core_event SET seats_taken = seats_taken - 1 WHERE id = OLD.event_id;
    END""",
        """CREATE TRIGGER core_attendee_count_moved AFTER UPDATE OF event_id ON core_attendee
    WHEN OLD.event_id IS NOT NEW.event_id
    BEGIN
        UPDATE core_event SET seats_taken = seats_taken - 1 WHERE id = OLD.event_id;
        UPDATE core_event SET seats_taken = seats_taken + 1 WHERE id = NEW.event_id;
    END""",
    ]

    POSTGRESQL_TRUNCATED = """
CREATE OR REPLACE FUNCTION core_attendee_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET seats_taken = 0;
    RETURN NULL;
END $$;
"""

    RECOUNT = """
UPDATE core_event SET seats_taken = (
    SELECT count(*) FROM core_attendee WHERE core_attendee.event_id = core_event.id
)
"""


def _counts(table: str) -> str:
    return f"""
        SELECT event_id,
               count(*) FILTER (WHERE status = '{REGISTERED}') AS seats,
               count(*) FILTER (WHERE status = '{WAITLISTED}') AS waiting
        FROM {table} GROUP BY event_id"""


# Per event, the seats and waiting places an UPDATE statement added (negative: removed).
NET_CHANGES = f"""
    SELECT event_id, sum(seats) AS seats, sum(waiting) AS waiting FROM (
        {_counts("inserted")}
        UNION ALL
        SELECT event_id,
               -count(*) FILTER (WHERE status = '{REGISTERED}'),
               -count(*) FILTER (WHERE status = '{WAITLISTED}')
        FROM deleted GROUP BY event_id
    ) AS changes GROUP BY event_id HAVING sum(seats) <> 0 OR sum(waiting) <> 0
"""

# The current functions, replaced in place over SEATS_ONLY's (the triggers stay).
POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION core_attendee_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event AS event
    SET seats_taken = event.seats_taken + added.seats,
        waitlist_taken = event.waitlist_taken + added.waiting
    FROM ({_counts("inserted")}
    ) AS added
    WHERE event.id = added.event_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_attendee_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event AS event
    SET seats_taken = event.seats_taken - removed.seats,
        waitlist_taken = event.waitlist_taken - removed.waiting
    FROM ({_counts("deleted")}
    ) AS removed
    WHERE event.id = removed.event_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_attendee_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The net change per event, whatever the statement changed (event, status, or both);
    -- seats leave their events before any event gains one, so a move never passes through
    -- an overbooked state.
    UPDATE core_event AS event
    SET seats_taken = event.seats_taken + moved.seats,
        waitlist_taken = event.waitlist_taken + moved.waiting
    FROM ({NET_CHANGES}) AS moved
    WHERE event.id = moved.event_id AND moved.seats <= 0;
    UPDATE core_event AS event
    SET seats_taken = event.seats_taken + moved.seats,
        waitlist_taken = event.waitlist_taken + moved.waiting
    FROM ({NET_CHANGES}) AS moved
    WHERE event.id = moved.event_id AND moved.seats > 0;
    RETURN NULL;
END $$;

-- TRUNCATE skips row and statement triggers alike: with every attendee gone, every seat and
-- waiting place is free again.
CREATE OR REPLACE FUNCTION core_attendee_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET seats_taken = 0, waitlist_taken = 0;
    RETURN NULL;
END $$;
"""

# SQLite's row triggers; `x = 'registered'` is 1 or 0 there.
SQLITE = [
    f"""CREATE TRIGGER core_attendee_count_inserted AFTER INSERT ON core_attendee
    BEGIN
        UPDATE core_event
        SET seats_taken = seats_taken + (NEW.status = '{REGISTERED}'),
            waitlist_taken = waitlist_taken + (NEW.status = '{WAITLISTED}')
        WHERE id = NEW.event_id;
    END""",
    f"""CREATE TRIGGER core_attendee_count_deleted AFTER DELETE ON core_attendee
    BEGIN
        UPDATE core_event
        SET seats_taken = seats_taken - (OLD.status = '{REGISTERED}'),
            waitlist_taken = waitlist_taken - (OLD.status = '{WAITLISTED}')
        WHERE id = OLD.event_id;
    END""",
    f"""CREATE TRIGGER core_attendee_count_moved AFTER UPDATE OF event_id, status ON core_attendee
    WHEN OLD.event_id IS NOT NEW.event_id OR OLD.status IS NOT NEW.status
    BEGIN
        UPDATE core_event
        SET seats_taken = seats_taken - (OLD.status = '{REGISTERED}'),
            waitlist_taken = waitlist_taken - (OLD.status = '{WAITLISTED}')
        WHERE id = OLD.event_id;
        UPDATE core_event
        SET seats_taken = seats_taken + (NEW.status = '{REGISTERED}'),
            waitlist_taken = waitlist_taken + (NEW.status = '{WAITLISTED}')
        WHERE id = NEW.event_id;
    END""",
]

RECOUNT = f"""
UPDATE core_event SET
    seats_taken = (
        SELECT count(*) FROM core_attendee
        WHERE core_attendee.event_id = core_event.id AND core_attendee.status = '{REGISTERED}'
    ),
    waitlist_taken = (
        SELECT count(*) FROM core_attendee
        WHERE core_attendee.event_id = core_event.id AND core_attendee.status = '{WAITLISTED}'
    )
"""
