"""Change versions PostgreSQL keeps by itself, which core.versions reads to reuse answers.

- `Event.change_version`: a fresh number from the `core_change_version` sequence whenever the
  row is inserted or updated. A registration, a cancellation or a move of an attendee updates the
  event's counters (counters.py), and an attendee edited in place touches its event, so the
  number moves with anything an event's detail or attendee pages show.
- `core_event_catalog.version` (one row): moves with any change to which events exist or to what
  decides a list's membership and order (insert, delete, truncate; name, location, start time,
  status). A registration never moves it, so a count of upcoming events outlives registrations.

Both live in rows, so they change with the transaction that changes the data: a reader sees a
new number exactly when it sees the change, whoever wrote it (the app, `manage.py shell`, a data
migration, psql). Numbers come from a sequence, which takes no lock; the only row that event
writes share is the catalog's, which registrations never touch. SQLite keeps the column at 0 and
no catalog: its readers compute every answer.
"""

from core.sql.counters import SEATS_ONLY


def _catalog_fields_trigger(*fields: str) -> str:
    changed = "\n          OR ".join(
        f"OLD.{field} IS DISTINCT FROM NEW.{field}" for field in fields
    )
    return f"""
DROP TRIGGER IF EXISTS core_event_catalog_fields ON core_event;
CREATE TRIGGER core_event_catalog_fields AFTER UPDATE ON core_event
    FOR EACH ROW
    WHEN ({changed})
    EXECUTE FUNCTION core_event_catalog_changed();
"""


# The fields of an event that decide a list's members and order.
CATALOG_FIELDS = ("name", "location", "start_time", "status")
# Before events had a status (migrations 0004 to 0007).
CATALOG_FIELDS_BEFORE_STATUS = CATALOG_FIELDS[:-1]

CATALOG_TRIGGER = _catalog_fields_trigger(*CATALOG_FIELDS)
CATALOG_TRIGGER_BEFORE_STATUS = _catalog_fields_trigger(*CATALOG_FIELDS_BEFORE_STATUS)

# Migration 0004: the sequence, the column with its update trigger, the catalog.
POSTGRESQL = (
    """
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
"""
    + CATALOG_TRIGGER_BEFORE_STATUS
    + """
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
"""
    # TRUNCATE skips row triggers: with every attendee gone, every seat is free again.
    + SEATS_ONLY.POSTGRESQL_TRUNCATED
    + """
CREATE TRIGGER core_attendee_truncated AFTER TRUNCATE ON core_attendee
    FOR EACH STATEMENT EXECUTE FUNCTION core_attendee_truncated();
"""
)

POSTGRESQL_DROP = """
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

# Migration 0010: an inserted row takes its number from the trigger too, whatever the INSERT
# wrote into the column (the model declares it with a default of 0, which SQLite keeps).
NEW_VERSION_ON_INSERT = """
DROP TRIGGER IF EXISTS core_event_new_version ON core_event;
CREATE TRIGGER core_event_new_version BEFORE INSERT OR UPDATE ON core_event
    FOR EACH ROW EXECUTE FUNCTION core_event_new_version();
"""
NEW_VERSION_ON_UPDATE_ONLY = """
DROP TRIGGER IF EXISTS core_event_new_version ON core_event;
CREATE TRIGGER core_event_new_version BEFORE UPDATE ON core_event
    FOR EACH ROW EXECUTE FUNCTION core_event_new_version();
"""
