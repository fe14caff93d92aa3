"""gunicorn's threaded worker with two bounds a client can see, set in gunicorn.conf.py.

- The probes (/healthz and /readyz, GET or HEAD) are served by threads of their own, never
  queued behind requests that hold every request thread (all waiting on a frozen database, say).
  The main thread reads the request line without consuming it (MSG_PEEK) when the request
  arrives, and hands a probe to PROBE_THREADS threads, anything else to the usual pool.
- A request that waited for a request thread longer than GUNICORN_QUEUE_TIMEOUT seconds is
  answered `503 service_unavailable` with `Retry-After: 1` by the main thread, and its
  connection closed; the app never sees it. A sweeper thread looks every SWEEP_SECONDS.

Neither applies to TLS served by gunicorn itself (the bytes cannot be read before the
handshake): there every request queues as in gunicorn's own worker.

And the workers share the connections evenly. All of them listen on one socket, and whichever
wakes first takes a connection: left alone, the 32 kept-alive connections of a client that
opens them at once can land on one or two workers, whose threads share one interpreter lock and
so one core, while the other workers idle. Here a worker takes a connection only while it holds
no more than the fewest any live worker holds (CONNECTIONS, in memory the master shares with
the workers it forks); the others leave it in the socket's queue for one that does. A worker
that stops taking part (stopping, hung, killed) drops out of the count once it is seen gone,
and a worker that misses it all (no slot; with --reuse-port, each worker has its own socket,
which no other can take from) takes connections as gunicorn's own does.
"""

import json
import mmap
import selectors
import socket
import threading
import time
from collections import deque
from concurrent import futures

from gunicorn.workers.gthread import ThreadWorker

from event_management_system.config import read

PROBE_THREADS = 2
SWEEP_SECONDS = 0.1
# The longest probe request line start: "HEAD /healthz?" and a margin.
PEEK_BYTES = 32
PROBE_STARTS = tuple(
    f"{method} {path}{after}".encode()
    for method in ("GET", "HEAD")
    for path in ("/healthz", "/readyz")
    for after in (" ", "?")
)
BUSY_BODY = json.dumps(
    {"detail": "The server is busy; try again shortly.", "code": "service_unavailable"}
).encode()
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Cache-Control: no-store\r\n"
    b"Connection: close\r\n" + f"Content-Length: {len(BUSY_BODY)}\r\n\r\n".encode() + BUSY_BODY
)


# A worker with a slot turns its loop (and shows life) at least this often, and every
# DECLINING_POLL_SECONDS while it declines connections, so that it takes them again soon after
# it is among the fewest: nothing else wakes it then.
BEAT_SECONDS = 0.25
DECLINING_POLL_SECONDS = 0.02
# A worker that has not shown life for this long (its main thread stuck, say closing a
# connection gracefully) no longer counts among those that take connections.
STALE_SECONDS = 1.0


class ConnectionTable:
    """Each worker's open connections and its last sign of life, one slot per worker, in memory
    mapped by the master before it forks, so that every worker reads all of them. The master
    hands out the slots (pre_fork) and takes them back (child_exit); a worker writes only its
    own."""

    def __init__(self, slots: int = 256):
        self._memory = mmap.mmap(-1, 8 + slots * 16)  # anonymous and shared across fork()
        # How many slots were ever handed out: the slots a reader looks at.
        self._used = memoryview(self._memory)[:8].cast("q")
        self._counts = memoryview(self._memory)[8 : 8 + slots * 8].cast("q")
        self._beats = memoryview(self._memory)[8 + slots * 8 :].cast("d")
        self._owners: dict[int, int] = {}  # the master's: slot -> its worker's age
        for slot in range(slots):
            self._counts[slot] = -1

    def claim(self, owner: int) -> int | None:
        """In the master, before forking `owner`: a free slot, out of the count until its worker
        first shows life; None when all are taken."""
        free = next((s for s in range(len(self._counts)) if s not in self._owners), None)
        if free is not None:
            self._owners[free] = owner
            self._beats[free] = 0.0
            self._counts[free] = 0
            self._used[0] = max(self._used[0], free + 1)
        return free

    def release(self, slot: int | None) -> None:
        """In the master, once the slot's worker has exited."""
        if slot is not None and self._owners.pop(slot, None) is not None:
            self._counts[slot] = -1

    def publish(self, slot: int, connections: int) -> None:
        self._counts[slot] = connections

    def beat(self, slot: int) -> None:
        self._beats[slot] = time.monotonic()

    def withdraw(self, slot: int) -> None:
        """Out of the count for good: a worker that takes no more connections."""
        self._counts[slot] = -1

    def fewest(self) -> int | None:
        """The fewest connections a live worker holds; None if none is seen live. Asked on
        each turn of a worker's loop that is not taking connections: it reads only the slots
        handed out."""
        used = self._used[0]
        live_since = time.monotonic() - STALE_SECONDS
        counts = self._counts[:used].tolist()
        beats = self._beats[:used].tolist()
        return min(
            (
                count
                for count, beat in zip(counts, beats, strict=True)
                if count >= 0 and beat >= live_since
            ),
            default=None,
        )


CONNECTIONS = ConnectionTable()


def is_probe(head: bytes) -> bool:
    """Whether a request's first bytes are a probe's request line."""
    return head.startswith(PROBE_STARTS)


class BoundedThreadWorker(ThreadWorker):
    """gthread, with probes on threads of their own, a bound on the wait for a thread, and
    connections shared evenly with the other workers."""

    # Set by the master's pre_fork (gunicorn.conf.py); None: this worker takes connections as
    # gunicorn's does.
    slot: int | None = None

    @property
    def nr_conns(self) -> int:
        return self._nr_conns

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        # gthread counts its open connections here, on the main thread: published as they move.
        self._nr_conns = value
        if self.slot is not None:
            CONNECTIONS.publish(self.slot, value)

    def notify(self):
        super().notify()
        if self.slot is not None and self.alive:
            CONNECTIONS.beat(self.slot)

    def wait_for_and_dispatch_events(self, timeout):
        if self.slot is not None:
            declining = not self._accepting and self.nr_conns < self.worker_connections
            timeout = min(timeout, DECLINING_POLL_SECONDS if declining else BEAT_SECONDS)
        super().wait_for_and_dispatch_events(timeout)

    def set_accept_enabled(self, enabled):
        if not self.alive and self.slot is not None:
            # Stopping: out of the count at once, so no one waits for it to take its share.
            CONNECTIONS.withdraw(self.slot)
            self.slot = None
        # gthread's loop asks again on each turn while it wants to take connections and is not.
        super().set_accept_enabled(enabled and self._takes_its_share())

    def accept(self, listener):
        super().accept(listener)
        if self._accepting and not self._takes_its_share():
            super().set_accept_enabled(False)

    def _takes_its_share(self) -> bool:
        if self.slot is None:
            return True
        fewest = CONNECTIONS.fewest()
        return fewest is None or self.nr_conns <= fewest

    def init_process(self):
        self.queue_timeout = read()["GUNICORN_QUEUE_TIMEOUT"]
        self.probe_pool = futures.ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="probe")
        # (future, connection, when queued) of requests given to the request pool, oldest first.
        self.queued: deque = deque()
        if self.queue_timeout and not self.cfg.is_ssl:
            threading.Thread(target=self._sweep, name="queue-sweeper", daemon=True).start()
        super().init_process()

    def enqueue_req(self, conn):
        if self.cfg.is_ssl or conn.is_http2:
            return super().enqueue_req(conn)
        head = self._peek(conn)
        if head is None:
            # Nothing arrived yet: wait on the poller, as gunicorn does after its data timeout,
            # then come back here when the socket is readable.
            self._wait_for_data(conn)
            return
        if is_probe(head):
            future = self.probe_pool.submit(self.handle, conn)
        else:
            now = time.monotonic()
            while self.queued and (self.queued[0][0].running() or self.queued[0][0].done()):
                self.queued.popleft()
            future = self.tpool.submit(self.handle, conn)
            self.queued.append((future, conn, now))
        future.add_done_callback(
            lambda done: self.method_queue.defer(self.finish_request, conn, done)
        )

    def finish_request(self, conn, fs):
        if fs.cancelled():  # only _shed_overdue cancels
            self.nr_conns -= 1
            self._answer_busy(conn)
            return
        super().finish_request(conn, fs)

    def _peek(self, conn) -> bytes | None:
        """The request's first bytes, left unread; None while none arrived."""
        if conn.parser is not None:
            buffered = conn.parser.unreader.buf.getvalue()
            if buffered:
                return buffered[:PEEK_BYTES]
        try:
            return conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError:
            return b""  # the request pool's thread meets the error and closes the connection

    def _wait_for_data(self, conn) -> None:
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock,
            selectors.EVENT_READ,
            lambda sock: self.on_pending_socket_readable(conn, sock),
        )

    def _sweep(self) -> None:
        while self.alive:
            time.sleep(SWEEP_SECONDS)
            try:
                oldest = self.queued[0]  # the main thread may pop it meanwhile
            except IndexError:
                continue
            if time.monotonic() - oldest[2] > self.queue_timeout:
                self.method_queue.defer(self._shed_overdue)

    def _shed_overdue(self) -> None:
        """In the main thread: cancel every request still waiting for a thread past the bound;
        finish_request answers each."""
        deadline = time.monotonic() - self.queue_timeout
        shed = 0
        while self.queued and self.queued[0][2] <= deadline:
            future, _, _ = self.queued.popleft()
            if future.cancel():
                shed += 1
        if shed:
            self.log.warning(
                "Answered 503 to %d request(s) that waited over %gs for a thread",
                shed,
                self.queue_timeout,
            )

    def _answer_busy(self, conn) -> None:
        sock = conn.sock
        try:
            sock.setblocking(False)
            sock.send(BUSY_RESPONSE)  # a fresh send buffer takes it whole
            sock.shutdown(socket.SHUT_WR)
            # Read what the client sent, so closing sends FIN rather than a reset that could
            # destroy the answer before the client reads it.
            for _ in range(16):
                if not sock.recv(65536):
                    break
        except OSError:
            pass
        finally:
            sock.close()
