"""Database triggers that keep Event.seats_taken equal to the number of its attendee rows.

Every insert, delete or move of an attendee row adjusts the counter in the same statement,
whoever issues it (a service, the admin, a bulk load, a hand-written query; TRUNCATE excepted),
and the counter's check constraint refuses any change that would overbook.
"""

from django.db import migrations

POSTGRESQL_FORWARD = """
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

POSTGRESQL_BACKWARD = """
DROP TRIGGER IF EXISTS core_attendee_count_inserted ON core_attendee;
DROP TRIGGER IF EXISTS core_attendee_count_deleted ON core_attendee;
DROP TRIGGER IF EXISTS core_attendee_count_moved ON core_attendee;
DROP FUNCTION IF EXISTS core_attendee_count_inserted();
DROP FUNCTION IF EXISTS core_attendee_count_deleted();
DROP FUNCTION IF EXISTS core_attendee_count_moved();
"""

# SQLite has row triggers only. Note for later migrations: rebuilding core_attendee on
# SQLite drops its triggers; test_models.py fails if that ever happens.
SQLITE_FORWARD = [
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
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS core_attendee_count_inserted",
    "DROP TRIGGER IF EXISTS core_attendee_count_deleted",
    "DROP TRIGGER IF EXISTS core_attendee_count_moved",
]

RECOUNT = """
UPDATE core_event SET seats_taken = (
    SELECT count(*) FROM core_attendee WHERE core_attendee.event_id = core_event.id
)
"""


def statements(vendor: str, forward: bool) -> list[str]:
    if vendor == "postgresql":
        return [POSTGRESQL_FORWARD if forward else POSTGRESQL_BACKWARD]
    if vendor == "sqlite":
        return SQLITE_FORWARD if forward else SQLITE_BACKWARD
    raise NotImplementedError(f"No seat-counting triggers written for {vendor}.")


def create_triggers(apps, schema_editor):
    for statement in statements(schema_editor.connection.vendor, forward=True):
        schema_editor.execute(statement)
    schema_editor.execute(RECOUNT)


def drop_triggers(apps, schema_editor):
    for statement in statements(schema_editor.connection.vendor, forward=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
