"""gunicorn settings, read automatically when gunicorn starts in this directory.

Threaded workers keep client connections alive between requests and overlap one request's
database wait with another's Python work; each thread keeps its own database connection.
Every value can be overridden on the command line or through the variables of
docs/operations/configuration.md (GUNICORN_* and the app's own).
"""

import glob
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from gunicorn import glogging

# The project's modules are importable when gunicorn starts elsewhere with -c this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from event_management_system.config import read  # noqa: E402

# The same values, parsed the same way, as the app's settings (event_management_system/config.py).
env = read()

bind = env["GUNICORN_BIND"]
workers = env["GUNICORN_WORKERS"]
# gthread, with the probes on threads of their own and requests that waited for a thread past
# GUNICORN_QUEUE_TIMEOUT answered 503 (event_management_system/ops/workers.py).
worker_class = "event_management_system.ops.workers.BoundedThreadWorker"
threads = env["GUNICORN_THREADS"]
keepalive = env["GUNICORN_KEEPALIVE"]
wsgi_app = "event_management_system.wsgi"

# gunicorn believes X-Forwarded-Proto from a proxy on this host by default; like the app, it
# believes it only when DJANGO_TRUSTED_PROXIES says proxies stand in front.
forwarded_allow_ips = ",".join(env["FORWARDED_ALLOW_IPS"])


# gunicorn's own lines (a worker killed, timed out, restarted) in the app's JSON when the app
# logs JSON, so the stream holds JSON lines only; its own text format otherwise. The level
# stays --log-level's. Its access log is left as configured (off unless --access-logfile asks):
# the app logs each request itself, without the path (registration tokens travel in paths) or
# the query string that gunicorn's line holds. A logger class rather than a logconfig_dict,
# because with one gunicorn builds an access line for every request even when nothing writes it.
class Logger(glogging.Logger):
    """gunicorn's logger, writing of a request it could not read, or failed to answer, what
    went wrong and from which address, never what the client sent: a request line or a header
    may hold a registration's token."""

    # "Invalid request from ip=203.0.113.7: Invalid HTTP request line: 'GET /api/...'": the
    # address, and the error's kind up to the first colon or quote that brings the client's text.
    MALFORMED = re.compile(r"(Invalid request from ip=\S*?: [^:'\"]*)")
    FAILED = "Error handling request"

    def warning(self, msg, *args, **kwargs):
        super().warning(self._private(msg), *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        msg, args = (self.FAILED, ()) if self._failed(msg) else (self._private(msg), args)
        super().error(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        msg, args = (self.FAILED, ()) if self._failed(msg) else (self._private(msg), args)
        super().exception(msg, *args, **kwargs)

    def _private(self, msg):
        if isinstance(msg, str) and (malformed := self.MALFORMED.match(msg)):
            return malformed[1].rstrip()
        return msg

    def _failed(self, msg) -> bool:
        # "Error handling request %s %s" with the method and the URI.
        return isinstance(msg, str) and msg.startswith(self.FAILED)


class JSONLogger(Logger):
    """The same, its own lines rendered as the app's JSON lines: with no request's fields, as
    they are about none of the app's requests (the thread writing one may still hold the fields
    of the last request it answered)."""

    def setup(self, cfg):
        super().setup(cfg)
        from event_management_system.ops.logs import formatter

        for handler in self.error_log.handlers:
            handler.setFormatter(formatter("json", request_context=False))


logger_class = JSONLogger if env["DJANGO_LOG_FORMAT"] == "json" else Logger

# Metrics: every worker writes its samples to files in one directory, and /metrics, answered by
# whichever worker takes the scrape, sums them all (prometheus_client's multiprocess mode). The
# directory is PROMETHEUS_MULTIPROC_DIR if set (one per gunicorn instance: it is emptied at
# start), else a fresh one made at start and removed at exit. Set before the first worker is
# forked, so before any worker imports prometheus_client, which reads it once (not with
# --preload, which imports the app first).
_made_metrics_dir = None


def on_starting(server):
    global _made_metrics_dir
    directory = env["PROMETHEUS_MULTIPROC_DIR"]
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)
    else:
        directory = _made_metrics_dir = tempfile.mkdtemp(prefix="events-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


def pre_fork(server, worker):
    # A slot in the table through which the workers share the connections evenly; none with
    # reuse_port, where each worker listens on its own socket and what it declines, no other
    # worker can take.
    from event_management_system.ops.workers import CONNECTIONS

    if not server.cfg.reuse_port:
        worker.slot = CONNECTIONS.claim(worker.age)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    from event_management_system.ops.workers import CONNECTIONS

    multiprocess.mark_process_dead(worker.pid)
    CONNECTIONS.release(getattr(worker, "slot", None))


def on_exit(server):
    if _made_metrics_dir:
        shutil.rmtree(_made_metrics_dir, ignore_errors=True)
