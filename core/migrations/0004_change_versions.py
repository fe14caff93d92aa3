"""Change versions kept by PostgreSQL itself, which a reader compares to reuse what it computed.

- `core_event.change_version`: a fresh number from `core_change_version` whenever the row is
  inserted or updated. A registration, a cancellation or a move of an attendee updates the
  event's seat counter (migration 0002), and an attendee edited in place touches its event, so
  the number moves with anything an event's detail or attendee pages show.
- `core_event_catalog.version`: moves with any change to which events exist or to what decides
  a list's membership and order (insert, delete, truncate; name, location or start time).
  A registration never moves it, so a count of upcoming events outlives registrations.

Both live in rows, so they change with the transaction that changes the data: a reader sees a
new number exactly when it sees the change, whoever wrote it (the app, `manage.py shell`, a
data migration, psql). Numbers come from a sequence, which takes no lock; the only row that
event writes share is the catalog's, which registrations never touch. Other databases keep no
versions, and their readers compute every answer.
"""

from django.db import migrations

FORWARD = """
DROP SEQUENCE IF EXISTS core_data_version;
CREATE SEQUENCE core_change_version;

ALTER TABLE core_event
    ADD COLUMN change_version bigint NOT NULL DEFAULT nextval('core_change_version');

CREATE FUNCTION core_event_new_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_version := nextval('core_change_version');
    RETURN NEW;
END $$;
CREATE TRIGGER core_event_new_version BEFORE UPDATE ON core_event
    FOR EACH ROW EXECUTE FUNCTION core_event_new_version();

CREATE TABLE core_event_catalog (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO core_event_catalog VALUES (1, nextval('core_change_version'));

CREATE FUNCTION core_event_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event_catalog SET version = nextval('core_change_version');
    RETURN NULL;
END $$;
CREATE TRIGGER core_event_catalog_rows AFTER INSERT OR DELETE OR TRUNCATE ON core_event
    FOR EACH STATEMENT EXECUTE FUNCTION core_event_catalog_changed();
CREATE TRIGGER core_event_catalog_fields AFTER UPDATE ON core_event
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name
          OR OLD.location IS DISTINCT FROM NEW.location
          OR OLD.start_time IS DISTINCT FROM NEW.start_time)
    EXECUTE FUNCTION core_event_catalog_changed();

-- An attendee edited in place (name, email) changes its event's attendee pages.
CREATE FUNCTION core_attendee_edited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET change_version = nextval('core_change_version')
    WHERE id IN (SELECT event_id FROM inserted UNION SELECT event_id FROM deleted);
    RETURN NULL;
END $$;
CREATE TRIGGER core_attendee_edited AFTER UPDATE ON core_attendee
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION core_attendee_edited();

-- TRUNCATE skips row triggers: with every attendee gone, every seat is free again.
CREATE FUNCTION core_attendee_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET seats_taken = 0;
    RETURN NULL;
END $$;
CREATE TRIGGER core_attendee_truncated AFTER TRUNCATE ON core_attendee
    FOR EACH STATEMENT EXECUTE FUNCTION core_attendee_truncated();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS core_attendee_truncated ON core_attendee;
DROP FUNCTION IF EXISTS core_attendee_truncated();
DROP TRIGGER IF EXISTS core_attendee_edited ON core_attendee;
DROP FUNCTION IF EXISTS core_attendee_edited();
DROP TRIGGER IF EXISTS core_event_catalog_fields ON core_event;
DROP TRIGGER IF EXISTS core_event_catalog_rows ON core_event;
DROP FUNCTION IF EXISTS core_event_catalog_changed();
DROP TABLE IF EXISTS core_event_catalog;
DROP TRIGGER IF EXISTS core_event_new_version ON core_event;
DROP FUNCTION IF EXISTS core_event_new_version();
ALTER TABLE core_event DROP COLUMN IF EXISTS change_version;
DROP SEQUENCE IF EXISTS core_change_version;
CREATE SEQUENCE IF NOT EXISTS core_data_version;
"""


def create_versions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def drop_versions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_data_version")]

    operations = [migrations.RunPython(create_versions, drop_versions)]
