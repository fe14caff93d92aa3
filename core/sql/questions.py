"""Triggers that keep `Event.requires_answers` true exactly while the event has a required
question, whoever writes the questions (the services, the admin, a bulk load, a hand-written
query): a registration reads it under the event's lock instead of reading the questions, so one
without answers costs what it cost before questions existed (core/sql/registration.py)."""

# Whether `{event}` has a required question, as SQL.
_HAS_REQUIRED = (
    "EXISTS (SELECT 1 FROM core_question AS q WHERE q.event_id = {event} AND q.required)"
)

POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION core_question_requires_answers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE core_event SET requires_answers = {_HAS_REQUIRED.format(event="OLD.event_id")}
        WHERE id = OLD.event_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE core_event SET requires_answers = {_HAS_REQUIRED.format(event="NEW.event_id")}
        WHERE id = NEW.event_id;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_question_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_event SET requires_answers = false WHERE requires_answers;
    RETURN NULL;
END $$;

CREATE TRIGGER core_question_requires_answers
    AFTER INSERT OR DELETE OR UPDATE OF event_id, required ON core_question
    FOR EACH ROW EXECUTE FUNCTION core_question_requires_answers();
CREATE TRIGGER core_question_truncated AFTER TRUNCATE ON core_question
    FOR EACH STATEMENT EXECUTE FUNCTION core_question_truncated();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS core_question_requires_answers ON core_question;
DROP TRIGGER IF EXISTS core_question_truncated ON core_question;
DROP FUNCTION IF EXISTS core_question_requires_answers();
DROP FUNCTION IF EXISTS core_question_truncated();
"""


def _sqlite_update(row: str) -> str:
    return (
        f"UPDATE core_event SET requires_answers = {_HAS_REQUIRED.format(event=f'{row}.event_id')}"
        f" WHERE id = {row}.event_id;"
    )


SQLITE = [
    f"""CREATE TRIGGER core_question_inserted AFTER INSERT ON core_question
    BEGIN
        {_sqlite_update("NEW")}
    END""",
    f"""CREATE TRIGGER core_question_deleted AFTER DELETE ON core_question
    BEGIN
        {_sqlite_update("OLD")}
    END""",
    f"""CREATE TRIGGER core_question_changed AFTER UPDATE OF event_id, required ON core_question
    BEGIN
        {_sqlite_update("OLD")}
        {_sqlite_update("NEW")}
    END""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS core_question_inserted",
    "DROP TRIGGER IF EXISTS core_question_deleted",
    "DROP TRIGGER IF EXISTS core_question_changed",
]
