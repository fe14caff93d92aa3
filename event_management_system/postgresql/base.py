"""Django's PostgreSQL backend with every wait on the server bounded.

OPTIONS take three bounds, in seconds (0 or absent: the app sets none):
- `connect_timeout`: libpq's own, for opening a connection (at least 2 s, libpq's minimum);
- `statement_timeout` and `lock_timeout`: PostgreSQL's settings, sent in the connection's
  startup packet (`options=-c ...`), so they cost no round trip and hold for every statement
  and lock wait, the `SELECT ... FOR UPDATE` of a registration or an event update included.
  With `send_timeouts: False` (behind PgBouncer, which refuses startup `options`) they are not
  sent: the pooler sets them on its server connections; the watchdog below still applies.

A fourth, `read_statement_timeout`, bounds the statements of reads (requests marked by
ReadBoundMiddleware, and the readiness check) more tightly than writes; it never exceeds
statement_timeout. It costs no round trip: the watchdog below cuts a read's statement once the
read bound has passed, and the session keeps the write bound (switching it would cost a round
trip each time a thread went from reads to writes). The server then stops the abandoned
statement itself: the startup packet also sends `client_connection_check_interval`, so a
statement whose client is gone ends within CLIENT_CHECK_MS, not at the write bound.

The server enforces these, and a frozen server enforces nothing. So the process's
watchdog (watchdog.py) also cuts any call still waiting once the server should have answered:
a statement, commit or rollback GRACE seconds after statement_timeout, the health check and
the connection's set-up after connect_timeout. Either way psycopg raises OperationalError,
which the API answers with 503; the reconnection Django attempts at once after a cut fails at
once too, so a frozen server costs a request one bound, not two. Not covered: fetching more
rows of a server-side cursor (`QuerySet.iterator()`), which only the admin's CSV export uses.

A connection kept between requests is not tested with a `SELECT 1` as each request starts (no
CONN_HEALTH_CHECKS): that would cost every request a round trip. One the server closed meanwhile
(a restart, an idle timeout, a terminated backend) is found by the error of the first statement
a request sends on it; if that left the connection broken and nothing else was sent yet, a new
connection replaces it and the statement is sent once more, inside the request's transaction if
one was begun. A frozen server is not retried (see the watchdog above).
"""

import math
from contextlib import contextmanager, suppress

from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql import base

from event_management_system.postgresql.watchdog import watchdog

# How long past statement_timeout a call may wait before the watchdog cuts it: the server's
# own cancellation arrives within milliseconds, so only a server that cannot answer needs this.
GRACE = 1.0
# How often the server looks whether a running statement's client has gone (a read the watchdog
# cut): its work stops that soon after.
CLIENT_CHECK_MS = 1000

LIBPQ_MINIMUM_CONNECT_TIMEOUT = 2
SERVER_TIMEOUTS = ("statement_timeout", "lock_timeout")
# What Django's connect() resets, and a connection replaced inside a request's Atomic keeps.
TRANSACTION_STATE = (
    "in_atomic_block",
    "atomic_blocks",
    "savepoint_state",
    "needs_rollback",
    "commit_on_exit",
    "run_on_commit",
    "autocommit",
)


def connect_timeout(options: dict) -> int | None:
    """The connect timeout libpq applies for OPTIONS' seconds: whole seconds, at least 2."""
    seconds = options.get("connect_timeout")
    return max(LIBPQ_MINIMUM_CONNECT_TIMEOUT, math.ceil(seconds)) if seconds else None


def read_statement_timeout(options: dict) -> float | None:
    """The statement bound of reads for OPTIONS: read_statement_timeout, never above
    statement_timeout; None when reads have the same bound as writes."""
    read, write = options.get("read_statement_timeout"), options.get("statement_timeout")
    if not read or (write and read >= write):
        return None
    return read


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL with bounded connects, statements, lock waits and calls (see the module)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reach_bound: float | None = None
        self.call_bound: float | None = None
        self.read_call_bound: float | None = None
        # The SET giving a session the read bound; None when reads have the write bound.
        # Whether the statements to come are a read's (ReadBoundMiddleware decides per request).
        self.reading = False
        self.cut_by_watchdog = False
        # Kept from an earlier request, and nothing sent on it in this one yet.
        self.replaceable = False
        self._on_cut = self._mark_cut  # made once, not per statement
        self.execute_wrappers.extend([self._replacing_execute, self._bounded_execute])

    def get_connection_params(self):
        params = super().get_connection_params()
        if timeout := connect_timeout(params):
            params["connect_timeout"] = timeout
        else:
            params.pop("connect_timeout", None)
        params.pop("read_statement_timeout", None)
        send_timeouts = params.pop("send_timeouts", True)
        settings = [
            f"-c {name}={max(1, round(seconds * 1000))}"
            for name in SERVER_TIMEOUTS
            if (seconds := params.pop(name, 0))
        ]
        if settings:
            settings.append(f"-c client_connection_check_interval={CLIENT_CHECK_MS}")
        if settings and send_timeouts:
            params["options"] = " ".join([params.get("options", ""), *settings]).strip()
        return params

    def connect(self):
        if self.cut_by_watchdog:
            # The server has just failed to answer in time. Django reconnects at once (after a
            # failed health check or rollback), and the request would wait connect_timeout more
            # on the same server: it answers now instead. The next attempt connects as usual.
            self.cut_by_watchdog = False
            raise self.Database.OperationalError("The database did not answer in time.")
        options = self.settings_dict["OPTIONS"]
        self.reach_bound = connect_timeout(options)
        statement = options.get("statement_timeout")
        self.call_bound = statement + GRACE if statement else None
        read = read_statement_timeout(options)
        # The server does not enforce it: the watchdog's cut is the read's bound.
        self.read_call_bound = read if read else self.call_bound
        watchdog.start()
        super().connect()
        self.replaceable = False

    def bound_statements(self, *, read: bool) -> None:
        """The statements to come on this thread are a read's (True) or may write (False)."""
        self.reading = read

    def close_if_unusable_or_obsolete(self):
        self.cut_by_watchdog = False  # a request starts or ends: a new one may wait again
        super().close_if_unusable_or_obsolete()
        self.replaceable = self.connection is not None

    def _replacing_execute(self, execute, sql, params, many, context):
        if not self.replaceable:
            return execute(sql, params, many, context)
        self.replaceable = False
        try:
            return execute(sql, params, many, context)
        except (OperationalError, InterfaceError):
            cursor = context["cursor"]
            if getattr(cursor.cursor, "name", None) or not self._replace_broken_connection():
                raise
        cursor.cursor = self.create_cursor()
        return execute(sql, params, many, context)

    def _replace_broken_connection(self) -> bool:
        """Open a new connection in place of one its first statement found broken, in the same
        transaction state (none sent yet); whether it did."""
        old = self.connection
        if self.cut_by_watchdog:
            return False  # a frozen server, not a closed connection: never waited for twice
        if old is None or not (old.broken or old.closed) or self.savepoint_ids:
            return False
        kept = {name: getattr(self, name) for name in TRANSACTION_STATE}
        with suppress(self.Database.Error):
            old.close()
        self.connection = None
        try:
            with self.wrap_database_errors:
                self.connect()
        finally:
            # connect() starts from no transaction; the request's Atomic, if any, goes on.
            for name, value in kept.items():
                setattr(self, name, value)
            if self.connection is None:
                self.closed_in_transaction = self.in_atomic_block
        if not self.autocommit:
            # As Atomic left it: a transaction psycopg begins with the statement sent again.
            self._set_autocommit(False)
        self.errors_occurred = False
        return True

    def init_connection_state(self):
        with self._bounded(self.reach_bound):
            super().init_connection_state()

    def is_usable(self):
        with self._bounded(self.reach_bound):
            return super().is_usable()

    def _commit(self):
        with self._bounded(self.call_bound):
            return super()._commit()

    def _rollback(self):
        with self._bounded(self.call_bound):
            return super()._rollback()

    def _bounded_execute(self, execute, sql, params, many, context):
        # The hot path: the same as _bounded, without a generator per statement.
        connection = self.connection
        bound = self.read_call_bound if self.reading else self.call_bound
        if bound is None:
            return execute(sql, params, many, context)
        key = watchdog.watch(connection.fileno(), bound, self._on_cut)
        try:
            return execute(sql, params, many, context)
        finally:
            watchdog.release(key)

    def _mark_cut(self) -> None:
        self.cut_by_watchdog = True

    @contextmanager
    def _bounded(self, seconds: float | None):
        try:
            fileno = self.connection.fileno() if seconds and self.connection else None
        except self.Database.Error:
            fileno = None  # a closed connection: the call fails at once, nothing to bound
        if fileno is None:
            yield
            return
        key = watchdog.watch(fileno, seconds, self._on_cut)
        try:
            yield
        finally:
            watchdog.release(key)
