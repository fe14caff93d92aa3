"""A registration on PostgreSQL as one statement: `core_register_attendee(...)` takes the
event's row lock, decides as core.rules.decide_registration decides, in the same order, inserts
the attendee (whose counters' trigger takes the seat or the waiting place) and the confirmation's
outbox row, and answers the outcome. Called outside a transaction, it is its own: one round trip
to the server, commit included, where the same steps from Python take four or more, all of them
holding the event's lock.

A repeat with a seat free meets the unique index on (event, lower(email)): the insert does
nothing and the outcome says so. Errors stay errors: a lock wait past `lock_timeout`, a
statement past `statement_timeout` (both answered 503 by the API), a violated constraint.

One statement commits itself, so a client that stopped waiting (its call cut by the watchdog
of event_management_system/postgresql, the API answering 503) must not have it commit later,
when a server that froze reads it at last: the call carries its deadline, the moment the
watchdog cuts it, and past it, once the event's lock is held, the function refuses
(`query_canceled`) and writes nothing. The deadline is the app's clock, read by the server's:
they must agree to well within the statement timeout.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from core.models import AttendeeStatus, EventStatus, MessageKind, MessageStatus
from core.rules import RegistrationOutcome as Outcome

FUNCTION = "core_register_attendee"


# Migration 0012's function, before answers and approval; migration 0015 replaced it.
CREATE_WITHOUT_ANSWERS = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(
    p_event_id bigint,
    p_name text,
    p_email text,
    p_token_hash text,
    p_token_nonce text,
    p_waitlist boolean,
    p_deadline timestamptz
) RETURNS TABLE (outcome text, attendee_id bigint, waiting_position integer, made_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    event record;
    new_status text := '{AttendeeStatus.REGISTERED}';
    kind text := '{MessageKind.REGISTERED}';
    place integer;
    new_id bigint;
    new_at timestamptz;
BEGIN
    SELECT e.start_time, e.max_capacity, e.seats_taken, e.waitlist_taken, e.status INTO event
    FROM core_event AS e WHERE e.id = p_event_id FOR UPDATE;
    IF clock_timestamp() > p_deadline THEN
        RAISE EXCEPTION 'The registration reached the database after its client stopped waiting.'
            USING ERRCODE = 'query_canceled';
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT '{Outcome.EVENT_NOT_FOUND.value}'::text, NULL::bigint, NULL::integer,
                            NULL::timestamptz;
        RETURN;
    END IF;
    IF event.status = '{EventStatus.CANCELLED}' THEN
        RETURN QUERY SELECT '{Outcome.EVENT_CANCELLED.value}'::text, NULL::bigint, NULL::integer,
                            NULL::timestamptz;
        RETURN;
    END IF;
    -- The time once the lock is held, as the Python path reads it.
    IF event.start_time <= clock_timestamp() THEN
        RETURN QUERY SELECT '{Outcome.REGISTRATION_CLOSED.value}'::text, NULL::bigint,
                            NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    IF event.seats_taken >= event.max_capacity OR event.waitlist_taken > 0 THEN
        IF EXISTS (SELECT 1 FROM core_attendee AS a
                   WHERE a.event_id = p_event_id AND lower(a.email) = lower(p_email)) THEN
            RETURN QUERY SELECT '{Outcome.ALREADY_REGISTERED.value}'::text, NULL::bigint,
                                NULL::integer, NULL::timestamptz;
            RETURN;
        END IF;
        IF NOT p_waitlist THEN
            RETURN QUERY SELECT '{Outcome.EVENT_FULL.value}'::text, NULL::bigint, NULL::integer,
                                NULL::timestamptz;
            RETURN;
        END IF;
        new_status := '{AttendeeStatus.WAITLISTED}';
        kind := '{MessageKind.WAITLISTED}';
        -- Under the lock, every waiting row of the event is older than this one.
        place := event.waitlist_taken + 1;
    END IF;
    INSERT INTO core_attendee AS a
        (event_id, name, email, registered_at, status, token_hash, token_nonce)
    VALUES (p_event_id, p_name, p_email, now(), new_status, p_token_hash, p_token_nonce)
    ON CONFLICT (event_id, (lower(email))) DO NOTHING
    RETURNING a.id, a.registered_at INTO new_id, new_at;
    IF new_id IS NULL THEN
        RETURN QUERY SELECT '{Outcome.ALREADY_REGISTERED.value}'::text, NULL::bigint,
                            NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO core_outgoingmessage
        (kind, event_id, attendee_id, name, email, seated, status, attempts, last_error,
         created_at)
    VALUES (kind, p_event_id, new_id, p_name, p_email, place IS NULL,
            '{MessageStatus.QUEUED}', 0, '', now());
    RETURN QUERY SELECT (CASE WHEN place IS NULL THEN '{Outcome.SEAT.value}'
                              ELSE '{Outcome.WAITING_PLACE.value}' END)::text,
                        new_id, place, new_at;
END $$;
"""

DROP_WITHOUT_ANSWERS = (
    f"DROP FUNCTION IF EXISTS {FUNCTION}(bigint, text, text, text, text, boolean, timestamptz);"
)


CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(
    p_event_id bigint,
    p_name text,
    p_email text,
    p_token_hash text,
    p_token_nonce text,
    p_waitlist boolean,
    p_deadline timestamptz,
    p_answers jsonb
) RETURNS TABLE (outcome text, attendee_id bigint, waiting_position integer, made_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    event record;
    new_status text := '{AttendeeStatus.REGISTERED}';
    kind text := '{MessageKind.REGISTERED}';
    result text := '{Outcome.SEAT.value}';
    place integer;
    new_id bigint;
    new_at timestamptz;
BEGIN
    SELECT e.start_time, e.max_capacity, e.seats_taken, e.waitlist_taken, e.status,
           e.requires_approval, e.requires_answers INTO event
    FROM core_event AS e WHERE e.id = p_event_id FOR UPDATE;
    IF clock_timestamp() > p_deadline THEN
        RAISE EXCEPTION 'The registration reached the database after its client stopped waiting.'
            USING ERRCODE = 'query_canceled';
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT '{Outcome.EVENT_NOT_FOUND.value}'::text, NULL::bigint, NULL::integer,
                            NULL::timestamptz;
        RETURN;
    END IF;
    -- Answers that came were checked against the questions before this call.
    IF event.requires_answers AND p_answers IS NULL THEN
        RETURN QUERY SELECT '{Outcome.ANSWERS_REQUIRED.value}'::text, NULL::bigint,
                            NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    IF event.status = '{EventStatus.CANCELLED}' THEN
        RETURN QUERY SELECT '{Outcome.EVENT_CANCELLED.value}'::text, NULL::bigint, NULL::integer,
                            NULL::timestamptz;
        RETURN;
    END IF;
    -- The time once the lock is held, as the Python path reads it.
    IF event.start_time <= clock_timestamp() THEN
        RETURN QUERY SELECT '{Outcome.REGISTRATION_CLOSED.value}'::text, NULL::bigint,
                            NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    IF event.seats_taken >= event.max_capacity OR event.waitlist_taken > 0 THEN
        IF EXISTS (SELECT 1 FROM core_attendee AS a
                   WHERE a.event_id = p_event_id AND lower(a.email) = lower(p_email)) THEN
            RETURN QUERY SELECT '{Outcome.ALREADY_REGISTERED.value}'::text, NULL::bigint,
                                NULL::integer, NULL::timestamptz;
            RETURN;
        END IF;
        IF NOT p_waitlist THEN
            RETURN QUERY SELECT '{Outcome.EVENT_FULL.value}'::text, NULL::bigint, NULL::integer,
                                NULL::timestamptz;
            RETURN;
        END IF;
        new_status := '{AttendeeStatus.WAITLISTED}';
        kind := '{MessageKind.WAITLISTED}';
        result := '{Outcome.WAITING_PLACE.value}';
        -- Under the lock, every waiting row of the event is older than this one.
        place := event.waitlist_taken + 1;
    END IF;
    IF event.requires_approval THEN
        -- A request for the owner to decide on: no seat, no waiting place.
        new_status := '{AttendeeStatus.PENDING}';
        kind := '{MessageKind.PENDING}';
        result := '{Outcome.PENDING.value}';
        place := NULL;
    END IF;
    INSERT INTO core_attendee AS a
        (event_id, name, email, registered_at, status, token_hash, token_nonce, answers)
    VALUES (p_event_id, p_name, p_email, now(), new_status, p_token_hash, p_token_nonce,
            COALESCE(p_answers, '{{}}'::jsonb))
    ON CONFLICT (event_id, (lower(email))) DO NOTHING
    RETURNING a.id, a.registered_at INTO new_id, new_at;
    IF new_id IS NULL THEN
        RETURN QUERY SELECT '{Outcome.ALREADY_REGISTERED.value}'::text, NULL::bigint,
                            NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO core_outgoingmessage
        (kind, event_id, attendee_id, name, email, seated, note, status, attempts, last_error,
         created_at)
    VALUES (kind, p_event_id, new_id, p_name, p_email,
            new_status = '{AttendeeStatus.REGISTERED}', '', '{MessageStatus.QUEUED}', 0, '',
            now());
    RETURN QUERY SELECT result, new_id, place, new_at;
END $$;
"""

DROP = (
    f"DROP FUNCTION IF EXISTS {FUNCTION}"
    "(bigint, text, text, text, text, boolean, timestamptz, jsonb);"
)

CALL = f"SELECT * FROM {FUNCTION}(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)"


def deadline(connection) -> datetime | None:
    """When the app stops waiting for a statement on `connection`: the backend's bound on a
    call (event_management_system/postgresql); None without one."""
    bound = getattr(connection, "call_bound", None)
    return timezone.now() + timedelta(seconds=bound) if bound else None
