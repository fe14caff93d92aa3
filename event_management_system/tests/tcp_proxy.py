"""A TCP proxy for tests that freezes like a stopped database server.

Frozen, it moves no byte and accepts no connection, yet every socket stays open and the
kernel still completes new handshakes (the listen backlog), as with a server whose processes
are all SIGSTOPped. Closed, its port refuses connections, as with a server that is down.
"""

import selectors
import socket
import threading
import time

POLL = 0.02


class FreezableProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; freeze() stops it, thaw() resumes, close() ends."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self._listener.getsockname()[1]
        self._peers: dict[socket.socket, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._thaw_at: float | None = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="freezable-proxy", daemon=True)
        self._thread.start()

    def freeze(self, *, seconds: float) -> None:
        """Stop forwarding and accepting for `seconds` (or until thaw())."""
        self._thaw_at = time.monotonic() + seconds

    def thaw(self) -> None:
        self._thaw_at = None

    def close(self) -> None:
        """Stop the proxy and close every socket: its port refuses connections from now on."""
        self._closing.set()
        self._thread.join(timeout=5)
        for sock in [self._listener, *self._peers]:
            sock.close()
        self._peers.clear()
        self._selector.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if not self._closing.is_set():
            self.close()

    def _frozen(self) -> bool:
        thaw_at = self._thaw_at
        if thaw_at is not None and time.monotonic() >= thaw_at:
            self._thaw_at = thaw_at = None
        return thaw_at is not None

    def _run(self) -> None:
        while not self._closing.is_set():
            if self._frozen():
                time.sleep(POLL)
                continue
            ready = self._selector.select(timeout=POLL)
            if self._frozen():
                continue  # frozen meanwhile: what arrived waits in the kernel's buffers
            for key, _ in ready:
                if key.fileobj is self._listener:
                    self._accept()
                else:
                    self._forward(key.fileobj)

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        server = socket.create_connection(self.upstream)
        for one, other in ((client, server), (server, client)):
            self._peers[one] = other
            self._selector.register(one, selectors.EVENT_READ)

    def _forward(self, sock: socket.socket) -> None:
        other = self._peers.get(sock)
        if other is None:
            return  # its pair was closed earlier in this round
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        for end in (sock, other):
            self._selector.unregister(end)
            del self._peers[end]
            end.close()
