"""A check-in on PostgreSQL as one statement: `core_check_in(...)` replays the verdict a scan's
nonce got before, or reads whether the ticket's registration holds a seat at a scheduled event,
inserts the check-in (the unique index on the registration decides: ON CONFLICT DO NOTHING, then
the first admission is read), writes an admission's `checkin.created` webhook message (the
object core.webhooks.checkin_data builds; the worker fans it out, so the statement costs the
same whatever the number of endpoints), records the scan's verdict and answers it. The same
steps as core.checkin's Python path, in the same order, proven equal by
core/tests/test_checkin_sql.py. Called outside a transaction, it is its own: one round trip,
commit included.

A twin scan with the same nonce, committed first, makes the scan's insert fail
(unique_violation): the whole statement is undone, its webhook message with it, and the caller
replays the twin's verdict.
"""

from core.models import AttendeeStatus, EventStatus, WebhookEventType

FUNCTION = "core_check_in"
ADMITTED = "admitted"
ALREADY_CHECKED_IN = "already_checked_in"
NOT_ADMITTED = "not_admitted"
# Not an outcome of a scan: the nonce was recorded before with another ticket.
NONCE_REUSED = "nonce_reused"

# A moment as core.webhooks writes one: ISO 8601 in UTC with `Z`, microseconds only when any.
_UTC_TEXT = """to_char({moment} AT TIME ZONE 'UTC',
        CASE WHEN mod(date_part('microseconds', {moment})::bigint, 1000000) = 0
             THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
             ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(
    p_event_id bigint,
    p_registration_id bigint,
    p_caller text,
    p_device_id bigint,
    p_device_name text,
    p_user_id bigint,
    p_nonce text,
    p_ticket_hash text,
    p_at timestamptz,
    p_message_uid text
) RETURNS TABLE (outcome text, admission jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    scan record;
    guest text;
    new_id bigint;
    first record;
    verdict text;
    answer jsonb;
    door jsonb;
BEGIN
    SELECT s.ticket_hash, s.outcome, s.admission INTO scan FROM core_checkinscan AS s
    WHERE s.event_id = p_event_id AND s.caller = p_caller AND s.nonce = p_nonce;
    IF FOUND THEN
        IF scan.ticket_hash <> p_ticket_hash THEN
            RETURN QUERY SELECT '{NONCE_REUSED}'::text, NULL::jsonb;
        ELSE
            RETURN QUERY SELECT scan.outcome::text, scan.admission::jsonb;
        END IF;
        RETURN;
    END IF;
    SELECT a.name INTO guest FROM core_attendee AS a JOIN core_event AS e ON e.id = a.event_id
    WHERE a.id = p_registration_id AND a.event_id = p_event_id
      AND a.status = '{AttendeeStatus.REGISTERED}' AND e.status = '{EventStatus.SCHEDULED}';
    IF NOT FOUND THEN
        verdict := '{NOT_ADMITTED}';
    ELSE
        INSERT INTO core_checkin AS c
            (event_id, registration_id, name, device_id, user_id, checked_in_at, offline)
        VALUES (p_event_id, p_registration_id, guest, p_device_id, p_user_id, p_at, false)
        ON CONFLICT (registration_id) DO NOTHING
        RETURNING c.id INTO new_id;
        IF new_id IS NOT NULL THEN
            verdict := '{ADMITTED}';
            door := CASE WHEN p_device_id IS NULL THEN NULL
                         ELSE jsonb_build_object('id', p_device_id, 'name', p_device_name)
                    END;
            answer := jsonb_build_object(
                'id', new_id, 'registration', p_registration_id, 'name', guest,
                'checked_in_at', p_at, 'device', door);
            INSERT INTO core_webhookmessage
                (uid, type, event_id, data, occurred_at, fanned_out, created_at)
            VALUES (
                p_message_uid, '{WebhookEventType.CHECKIN_CREATED}', p_event_id,
                jsonb_build_object(
                    'id', new_id, 'event', p_event_id, 'registration', p_registration_id,
                    'name', guest, 'checked_in_at', {_UTC_TEXT.format(moment="p_at")},
                    'device', door, 'offline', false),
                p_at, false, now());
        ELSE
            SELECT c.id, c.name, c.checked_in_at, c.device_id, d.name AS device_name INTO first
            FROM core_checkin AS c LEFT JOIN core_device AS d ON d.id = c.device_id
            WHERE c.registration_id = p_registration_id;
            IF NOT FOUND THEN
                -- Undone between the conflict and this read: the scanner's retry decides.
                RAISE EXCEPTION 'The check-in was undone while this scan was judged.'
                    USING ERRCODE = 'serialization_failure';
            END IF;
            verdict := '{ALREADY_CHECKED_IN}';
            answer := jsonb_build_object(
                'id', first.id, 'registration', p_registration_id, 'name', first.name,
                'checked_in_at', first.checked_in_at,
                'device', CASE WHEN first.device_id IS NULL THEN NULL
                               ELSE jsonb_build_object('id', first.device_id,
                                                       'name', first.device_name)
                          END);
        END IF;
    END IF;
    INSERT INTO core_checkinscan
        (event_id, caller, nonce, ticket_hash, outcome, admission, created_at)
    VALUES (p_event_id, p_caller, p_nonce, p_ticket_hash, verdict, answer, now());
    RETURN QUERY SELECT verdict, answer;
END $$;
"""

DROP = (
    f"DROP FUNCTION IF EXISTS {FUNCTION}"
    "(bigint, bigint, text, bigint, text, bigint, text, text, timestamptz, text);"
)

# The admission as text, decoded by the caller: Django has psycopg hand jsonb over undecoded.
CALL = f"SELECT outcome, admission::text FROM {FUNCTION}(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


# Migration 0015's function, before check-ins' webhooks; migration 0017 replaced it.
CREATE_WITHOUT_WEBHOOKS = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(
    p_event_id bigint,
    p_registration_id bigint,
    p_caller text,
    p_device_id bigint,
    p_device_name text,
    p_user_id bigint,
    p_nonce text,
    p_ticket_hash text,
    p_at timestamptz
) RETURNS TABLE (outcome text, admission jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    scan record;
    guest text;
    new_id bigint;
    first record;
    verdict text;
    answer jsonb;
BEGIN
    SELECT s.ticket_hash, s.outcome, s.admission INTO scan FROM core_checkinscan AS s
    WHERE s.event_id = p_event_id AND s.caller = p_caller AND s.nonce = p_nonce;
    IF FOUND THEN
        IF scan.ticket_hash <> p_ticket_hash THEN
            RETURN QUERY SELECT '{NONCE_REUSED}'::text, NULL::jsonb;
        ELSE
            RETURN QUERY SELECT scan.outcome::text, scan.admission::jsonb;
        END IF;
        RETURN;
    END IF;
    SELECT a.name INTO guest FROM core_attendee AS a JOIN core_event AS e ON e.id = a.event_id
    WHERE a.id = p_registration_id AND a.event_id = p_event_id
      AND a.status = '{AttendeeStatus.REGISTERED}' AND e.status = '{EventStatus.SCHEDULED}';
    IF NOT FOUND THEN
        verdict := '{NOT_ADMITTED}';
    ELSE
        INSERT INTO core_checkin AS c
            (event_id, registration_id, name, device_id, user_id, checked_in_at, offline)
        VALUES (p_event_id, p_registration_id, guest, p_device_id, p_user_id, p_at, false)
        ON CONFLICT (registration_id) DO NOTHING
        RETURNING c.id INTO new_id;
        IF new_id IS NOT NULL THEN
            verdict := '{ADMITTED}';
            answer := jsonb_build_object(
                'id', new_id, 'registration', p_registration_id, 'name', guest,
                'checked_in_at', p_at,
                'device', CASE WHEN p_device_id IS NULL THEN NULL
                               ELSE jsonb_build_object('id', p_device_id, 'name', p_device_name)
                          END);
        ELSE
            SELECT c.id, c.name, c.checked_in_at, c.device_id, d.name AS device_name INTO first
            FROM core_checkin AS c LEFT JOIN core_device AS d ON d.id = c.device_id
            WHERE c.registration_id = p_registration_id;
            IF NOT FOUND THEN
                -- Undone between the conflict and this read: the scanner's retry decides.
                RAISE EXCEPTION 'The check-in was undone while this scan was judged.'
                    USING ERRCODE = 'serialization_failure';
            END IF;
            verdict := '{ALREADY_CHECKED_IN}';
            answer := jsonb_build_object(
                'id', first.id, 'registration', p_registration_id, 'name', first.name,
                'checked_in_at', first.checked_in_at,
                'device', CASE WHEN first.device_id IS NULL THEN NULL
                               ELSE jsonb_build_object('id', first.device_id,
                                                       'name', first.device_name)
                          END);
        END IF;
    END IF;
    INSERT INTO core_checkinscan
        (event_id, caller, nonce, ticket_hash, outcome, admission, created_at)
    VALUES (p_event_id, p_caller, p_nonce, p_ticket_hash, verdict, answer, now());
    RETURN QUERY SELECT verdict, answer;
END $$;
"""

DROP_WITHOUT_WEBHOOKS = (
    f"DROP FUNCTION IF EXISTS {FUNCTION}"
    "(bigint, bigint, text, bigint, text, bigint, text, text, timestamptz);"
)
