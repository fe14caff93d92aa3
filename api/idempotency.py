"""Safe retries: an `Idempotency-Key` header makes a creating POST answer a repeat as it
answered the first, without doing it twice (Stripe's contract: key, request fingerprint,
stored answer).

`@idempotent` wraps a view action. Without the header the action runs as before. With it, one
transaction holds the whole request: the key is claimed (a row unique per endpoint, caller and
key), the action runs, and its rendered answer is written into the claim before the commit. So
a committed effect always has its answer stored, and no answer is stored for an effect rolled
back. A repeat with the same key and the same request (method, path with query, body) gets the
stored answer with `Idempotent-Replayed: true`; the same key with another request, 422.

A concurrent twin waits for the request in progress. On PostgreSQL its claim waits on the unique
index until the first commits (the twin then replays the first's answer) or rolls back (the
twin's claim succeeds and it runs the action itself); past the lock timeout it answers 409
`idempotency_in_progress` with Retry-After. On SQLite, writers' transactions are serialised
(IMMEDIATE), so the twin begins only once the first has ended.

Answers 429 and 5xx are not kept: their transaction is rolled back, effect and claim with it, so
a retry runs afresh. A request refused before the action runs (a bad token, no permission, over
its budget) never claims its key. Kept answers, a registration's token among them, last until the
key expires (`IDEMPOTENCY_TTL`); `manage.py purge_idempotency_keys` deletes expired keys.
"""

import functools
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpResponse
from django.template.response import SimpleTemplateResponse
from django.utils import timezone
from rest_framework import exceptions, status

from core.models import IdempotencyKey
from event_management_system.ops.clients import client_address

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
INVALID_KEY_MESSAGE = (
    "Send 1 to 255 printable ASCII characters (letters, digits, punctuation, spaces)."
)
# The headers of an answer that its replay repeats; the others are each response's own.
KEPT_HEADERS = ("Content-Type", "Location", "Retry-After")
# PostgreSQL cut a wait short: lock_timeout, statement_timeout.
WAIT_CUT_SHORT = {"55P03", "57014"}
CLAIM_ATTEMPTS = 3


class KeyReused(exceptions.APIException):
    """The key was already used for another request (method, path or body)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for another request; use a new key for a new "
        "request."
    )
    default_code = "idempotency_key_reused"


class InProgress(exceptions.APIException):
    """A request with this key is still running; its answer is not known yet."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "A request with this Idempotency-Key is still in progress; retry after Retry-After "
        "seconds to get its answer."
    )
    default_code = "idempotency_in_progress"
    # DRF's exception handler sends it as Retry-After.
    wait = 1


def idempotent(action):
    """Make a view action honour `Idempotency-Key` (see the module)."""

    @functools.wraps(action)
    def honouring_key(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return action(view, request, *args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise exceptions.ValidationError({HEADER: [INVALID_KEY_MESSAGE]})
        claim = Claim(
            scope=f"{getattr(view, 'basename', type(view).__name__)}.{view.action}",
            caller=caller_of(request),
            key=key,
            fingerprint=fingerprint_of(request),
        )
        with transaction.atomic():
            kept = claim.take()
            if kept is not None:
                return claim.replay(kept)
            response = run(action, view, request, *args, **kwargs)
            if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS or (
                response.status_code >= 500
            ):
                # Neither kept nor done: the retry this answer invites runs afresh.
                transaction.set_rollback(True)
                return response
            claim.keep(render(view, request, response, *args, **kwargs))
        return response

    return honouring_key


def caller_of(request) -> str:
    """Whose keys these are: the token's (or session's) user, else the client's address."""
    user = request.user
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"address:{client_address(request)}"


def fingerprint_of(request) -> str:
    """SHA-256 of the request's method, path with query string, and body as sent."""
    digest = hashlib.sha256()
    # Read before the action parses the body; Django keeps it for the parser.
    for part in (request.method.encode(), request.get_full_path().encode(), request.body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def run(action, view, *args, **kwargs):
    """The action's answer, errors answered as the view answers them.

    The action runs in a savepoint: whatever made it fail is undone, and the claim stays
    writable even after a failed statement.
    """
    try:
        with transaction.atomic():
            return action(view, *args, **kwargs)
    except Exception as error:  # answered below exactly as the view's dispatch would
        return view.handle_exception(error)


def render(view, request, response, *args, **kwargs):
    """The response with its body rendered, as the client will receive it."""
    response = view.finalize_response(request, response, *args, **kwargs)
    if isinstance(response, SimpleTemplateResponse):
        response.render()
    return response


@dataclass
class Claim:
    """One caller's key for one endpoint, and the request it came with."""

    scope: str
    caller: str
    key: str
    fingerprint: str
    row: IdempotencyKey | None = None

    def take(self) -> IdempotencyKey | None:
        """Claim the key for this request; or the row of a live earlier claim, committed.

        An expired row is deleted and the key claimed anew. Raises InProgress when a twin's
        claim is held longer than the database waits for it.
        """
        rows = IdempotencyKey.objects.filter(scope=self.scope, caller=self.caller, key=self.key)
        for _ in range(CLAIM_ATTEMPTS):
            now = timezone.now()
            kept = rows.first()
            if kept is not None and kept.expires_at > now:
                return kept
            try:
                with transaction.atomic():
                    if kept is not None:
                        rows.filter(pk=kept.pk, expires_at__lte=now).delete()
                    self.row = IdempotencyKey.objects.create(
                        scope=self.scope,
                        caller=self.caller,
                        key=self.key,
                        fingerprint=self.fingerprint,
                        created_at=now,
                        expires_at=now + settings.IDEMPOTENCY_TTL,
                    )
                return None
            except IntegrityError:
                # A twin committed this key while this claim waited: read its answer.
                continue
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) in WAIT_CUT_SHORT:
                    raise InProgress from error
                raise
        raise InProgress

    def replay(self, kept: IdempotencyKey) -> HttpResponse:
        """The kept answer again, if this request is the one that got it."""
        if kept.fingerprint != self.fingerprint:
            raise KeyReused
        if kept.status_code is None:  # never committed so; read as a twin still running
            raise InProgress
        response = HttpResponse(bytes(kept.body), status=kept.status_code)
        for name, value in kept.headers.items():
            response[name] = value
        response[REPLAYED_HEADER] = "true"
        return response

    def keep(self, response) -> None:
        """Write the rendered answer into this request's claim."""
        self.row.status_code = response.status_code
        self.row.headers = {name: response[name] for name in KEPT_HEADERS if name in response}
        self.row.body = response.content
        self.row.save(update_fields=["status_code", "headers", "body"])
