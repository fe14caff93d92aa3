"""Registrations get a status (a seat, or a place on the waiting list) and a token's hash; events
get a status (scheduled or cancelled) and a second trigger-kept counter, `waitlist_taken`.

The seat-counting triggers of migration 0002 are rewritten: `seats_taken` counts registered rows
only, `waitlist_taken` waitlisted ones, and both move when a row's status changes (a promotion
takes a seat in the statement that changes the status; the counter's check constraint refuses
one that would overbook). On PostgreSQL the functions are replaced in place; SQLite rebuilds
both tables to add the columns, so its row triggers step aside first, as in migration 0005.

The event catalog's trigger (migration 0004) now also fires when an event's status changes: a
cancelled event leaves the upcoming list, so cached list pages must not outlive it.
"""

from importlib import import_module

from django.db import migrations, models

seat_triggers = import_module("core.migrations.0002_seats_taken_triggers")

# Per event, the seats and waiting places an UPDATE statement added (negative: removed).
NET_CHANGES = """
    SELECT event_id, sum(seats) AS seats, sum(waiting) AS waiting FROM (
        SELECT event_id,
               count(*) FILTER (WHERE status = 'registered') AS seats,
               count(*) FILTER (WHERE status = 'waitlisted') AS waiting
        FROM inserted GROUP BY event_id
        UNION ALL
        SELECT event_id,
               -count(*) FILTER (WHERE status = 'registered'),
               -count(*) FILTER (WHERE status = 'waitlisted')
        FROM deleted GROUP BY event_id
    ) AS changes GROUP BY event_id HAVING sum(seats) <> 0 OR sum(waiting) <> 0
"""

POSTGRESQL_FORWARD = """
CREATE OR REPLACE FUNCTION core_attendee_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event AS event
    SET seats_taken = event.seats_taken + added.seats,
        waitlist_taken = event.waitlist_taken + added.waiting
    FROM (
        SELECT event_id,
               count(*) FILTER (WHERE status = 'registered') AS seats,
               count(*) FILTER (WHERE status = 'waitlisted') AS waiting
        FROM inserted GROUP BY event_id
    ) AS added
    WHERE event.id = added.event_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_attendee_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event AS event
    SET seats_taken = event.seats_taken - removed.seats,
        waitlist_taken = event.waitlist_taken - removed.waiting
    FROM (
        SELECT event_id,
               count(*) FILTER (WHERE status = 'registered') AS seats,
               count(*) FILTER (WHERE status = 'waitlisted') AS waiting
        FROM deleted GROUP BY event_id
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

CREATE OR REPLACE FUNCTION core_attendee_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET seats_taken = 0, waitlist_taken = 0;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS core_event_catalog_fields ON core_event;
CREATE TRIGGER core_event_catalog_fields AFTER UPDATE ON core_event
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name
          OR OLD.location IS DISTINCT FROM NEW.location
          OR OLD.start_time IS DISTINCT FROM NEW.start_time
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION core_event_catalog_changed();
""".replace("{NET_CHANGES}", NET_CHANGES)

# Migration 0002's functions and 0004's catalog trigger, as they were.
POSTGRESQL_BACKWARD = f"""
{seat_triggers.POSTGRESQL_BACKWARD}
{seat_triggers.POSTGRESQL_FORWARD}
CREATE OR REPLACE FUNCTION core_attendee_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET seats_taken = 0;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS core_event_catalog_fields ON core_event;
CREATE TRIGGER core_event_catalog_fields AFTER UPDATE ON core_event
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name
          OR OLD.location IS DISTINCT FROM NEW.location
          OR OLD.start_time IS DISTINCT FROM NEW.start_time)
    EXECUTE FUNCTION core_event_catalog_changed();
"""

# SQLite has row triggers only; `x = 'registered'` is 1 or 0 there. Note for later migrations:
# rebuilding core_attendee on SQLite drops these; rebuilding core_event needs them aside.
SQLITE_FORWARD = [
    """CREATE TRIGGER core_attendee_count_inserted AFTER INSERT ON core_attendee
    BEGIN
        UPDATE core_event
        SET seats_taken = seats_taken + (NEW.status = 'registered'),
            waitlist_taken = waitlist_taken + (NEW.status = 'waitlisted')
        WHERE id = NEW.event_id;
    END""",
    """CREATE TRIGGER core_attendee_count_deleted AFTER DELETE ON core_attendee
    BEGIN
        UPDATE core_event
        SET seats_taken = seats_taken - (OLD.status = 'registered'),
            waitlist_taken = waitlist_taken - (OLD.status = 'waitlisted')
        WHERE id = OLD.event_id;
    END""",
    """CREATE TRIGGER core_attendee_count_moved AFTER UPDATE OF event_id, status ON core_attendee
    WHEN OLD.event_id IS NOT NEW.event_id OR OLD.status IS NOT NEW.status
    BEGIN
        UPDATE core_event
        SET seats_taken = seats_taken - (OLD.status = 'registered'),
            waitlist_taken = waitlist_taken - (OLD.status = 'waitlisted')
        WHERE id = OLD.event_id;
        UPDATE core_event
        SET seats_taken = seats_taken + (NEW.status = 'registered'),
            waitlist_taken = waitlist_taken + (NEW.status = 'waitlisted')
        WHERE id = NEW.event_id;
    END""",
]
SQLITE_BACKWARD = seat_triggers.SQLITE_BACKWARD

RECOUNT = """
UPDATE core_event SET
    seats_taken = (
        SELECT count(*) FROM core_attendee
        WHERE core_attendee.event_id = core_event.id AND core_attendee.status = 'registered'
    ),
    waitlist_taken = (
        SELECT count(*) FROM core_attendee
        WHERE core_attendee.event_id = core_event.id AND core_attendee.status = 'waitlisted'
    )
"""


def statements(vendor: str, forward: bool) -> list[str]:
    """The SQLite triggers, created (forward) or dropped: for a later migration that rebuilds
    core_event or core_attendee to step them aside, as this one does with 0002's."""
    if vendor == "sqlite":
        return SQLITE_FORWARD if forward else SQLITE_BACKWARD
    raise NotImplementedError(f"No row triggers to step aside on {vendor}.")


def sqlite_step_aside(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in seat_triggers.statements("sqlite", forward=False):
            schema_editor.execute(statement)


def sqlite_restore_0002(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)
        for statement in seat_triggers.statements("sqlite", forward=True):
            schema_editor.execute(statement)
        schema_editor.execute(seat_triggers.RECOUNT)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FORWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"No seat-counting triggers written for {vendor}.")
    schema_editor.execute(RECOUNT)


def restore_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_BACKWARD)
        schema_editor.execute(seat_triggers.RECOUNT)
    elif vendor == "sqlite":
        # The columns go next, rebuilding the tables: the triggers step aside again.
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("core", "0007_idempotency_key")]

    operations = [
        migrations.RunPython(sqlite_step_aside, sqlite_restore_0002),
        migrations.AddField(
            model_name="attendee",
            name="status",
            field=models.CharField(
                choices=[("registered", "Registered"), ("waitlisted", "Waitlisted")],
                db_default="registered",
                default="registered",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="attendee",
            name="token_hash",
            field=models.CharField(
                blank=True, default=None, editable=False, max_length=64, null=True, unique=True
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="status",
            field=models.CharField(
                choices=[("scheduled", "Scheduled"), ("cancelled", "Cancelled")],
                db_default="scheduled",
                default="scheduled",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="event",
            name="waitlist_taken",
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name="attendee",
            index=models.Index(
                condition=models.Q(("status", "waitlisted")),
                fields=["event", "id"],
                name="attendee_waiting_event_id",
            ),
        ),
        migrations.AddConstraint(
            model_name="attendee",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["registered", "waitlisted"])),
                name="attendee_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["scheduled", "cancelled"])),
                name="event_status_known",
            ),
        ),
        migrations.RunPython(create_triggers, restore_triggers),
    ]
