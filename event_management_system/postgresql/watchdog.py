"""A client-side deadline for calls into PostgreSQL, enforced even when the server is frozen.

A server that is stopped, paused or stuck on its disk enforces none of its own timeouts, and
its kernel still acknowledges every packet, so neither TCP keepalives nor tcp_user_timeout
end a connection that is already open. One daemon thread per process therefore keeps the
deadline of each call in progress and, once one passes, shuts down that connection's socket:
libpq reads the end of the stream and psycopg raises OperationalError in the waiting thread.

A call costs a dict insert and a locked dict pop (about a microsecond); the thread wakes
every TICK seconds, so a call is cut at most TICK after its deadline.
"""

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

TICK = 0.1


class Watchdog:
    """Shuts down the socket of any watched call still running after its deadline."""

    def __init__(self):
        self._calls: dict[int, tuple[float, int, Callable[[], None]]] = {}
        self._keys = itertools.count()
        # Held while a call is released and while a cut duplicates its socket, so a cut can
        # never reach a file descriptor that its call has finished with (and may have reused).
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the watchdog's thread in this process; cheap if it is running."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()

    def watch(self, fileno: int, seconds: float, on_cut: Callable[[], None]) -> int:
        """Watch a call on the socket `fileno`; returns the key to release it with.

        If the call is cut, `on_cut()` runs first, in the watchdog's thread.
        """
        key = next(self._keys)
        self._calls[key] = (time.monotonic() + seconds, fileno, on_cut)
        return key

    def release(self, key: int) -> None:
        """The call is over: it is no longer watched, whatever its outcome."""
        with self._lock:
            self._calls.pop(key, None)

    def forget_parent(self) -> None:
        """In a forked child: no thread yet, no calls, and a lock no parent thread holds."""
        self._calls, self._lock, self._thread = {}, threading.Lock(), None

    def _run(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            for key, (deadline, fileno, on_cut) in self._calls.copy().items():
                if deadline <= now:
                    self._cut(key, fileno, on_cut)

    def _cut(self, key: int, fileno: int, on_cut: Callable[[], None]) -> None:
        with self._lock:
            if self._calls.pop(key, None) is None:
                return  # released meanwhile
            try:
                # A duplicate, so closing it leaves the connection's own descriptor alone;
                # shutting it down ends the connection for every descriptor of the socket.
                sock = socket.socket(fileno=os.dup(fileno))
            except OSError:
                return
        logger.warning("A database call passed its deadline; its connection is cut")
        on_cut()
        with sock:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the other end


watchdog = Watchdog()
os.register_at_fork(after_in_child=watchdog.forget_parent)
