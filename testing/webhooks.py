"""A webhook receiver for tests: an HTTP server on 127.0.0.1 (a port the OS picks) that checks
every request as a careful receiver would, with the `standardwebhooks` library, and keeps what
it accepted, in order.

Also a receiver to try webhooks with on one's own machine (the webhooks guide):
`python -m testing.webhooks 127.0.0.1:8003 whsec_… [--count N]` prints one line for each
message, `verified <type> <webhook-id>` (answered 200) or `refused <webhook-id>: <why>`
(answered 400), and exits after N verified messages when given.
"""

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    """One request as it arrived, and the status it was answered."""

    webhook_id: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the server received; `answer(n)` chooses the status of the n-th request (from 0),
    200 by default; `secrets` are those every request must verify with (each on its own),
    `path_secrets` those of the requests to one path instead. A request with no secret to
    verify with counts as unverified."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    path_secrets: dict[str, list[str]] = field(default_factory=dict)
    answer: Callable[[int], int] = lambda n: 200
    # Seconds each request is held before its answer, so that a kill can land mid-send.
    delay: float = 0.0
    # Sent as the body of every answer.
    answer_body: bytes = b"ok"
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> list[str]:
        """The `webhook-id`s accepted, each once, in the order of its first acceptance."""
        return list(dict.fromkeys(r.webhook_id for r in self.accepted))

    def verify(self, headers: dict[str, str], body: bytes, path: str = "") -> None:
        secrets = self.path_secrets.get(path, self.secrets)
        if not secrets:
            self.unverified.append(f"{headers.get('webhook-id')}: no secret to verify with")
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError as error:
                self.unverified.append(f"{headers.get('webhook-id')}: {error}")


@contextmanager
def webhook_receiver(**options) -> Iterator[Receiver]:
    """Serve a Receiver on 127.0.0.1 until the block ends; yields it, its `url` set."""
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender stopped mid-request (a worker killed between the headers and the
                # body): nothing was delivered, as any HTTP server would judge it.
                self.close_connection = True
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            with receiver.lock:
                receiver.verify(headers, body, self.path)
                status = receiver.answer(len(receiver.requests))
            if receiver.delay:
                time.sleep(receiver.delay)
            with receiver.lock:
                receiver.requests.append(
                    Received(headers.get("webhook-id", ""), headers, body, status)
                )
            self.send_response(status)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(receiver.answer_body)))
            self.end_headers()
            self.wfile.write(receiver.answer_body)

        def log_message(self, *args):
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m testing.webhooks",
        description="Receive webhooks, verify each with the endpoint's secret, print a line each.",
    )
    parser.add_argument("address", help="HOST:PORT to listen on, e.g. 127.0.0.1:8003")
    parser.add_argument("secret", help="the endpoint's secret, whsec_…")
    parser.add_argument("--count", type=int, help="exit after this many verified messages")
    args = parser.parse_args(argv)
    host, _, port = args.address.rpartition(":")
    webhook = Webhook(args.secret)
    verified = 0
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            nonlocal verified
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                webhook.verify(body, headers)
            except WebhookVerificationError as error:
                status, line = 400, f"refused {headers.get('webhook-id')}: {error}"
            else:
                status = 200
                line = f"verified {json.loads(body)['type']} {headers['webhook-id']}"
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            print(line, flush=True)
            if status == 200:
                verified += 1
                if args.count and verified >= args.count:
                    done.set()

        def log_message(self, *args):
            pass  # one line a message, printed above

    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening on http://{args.address}/", file=sys.stderr, flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
