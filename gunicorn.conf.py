"""gunicorn settings, read automatically when gunicorn starts in this directory.

Threaded workers keep client connections alive between requests and overlap one request's
database wait with another's Python work; each thread keeps its own database connection.
Every value can be overridden on the command line or through the variables of
docs/configuration.md (GUNICORN_* and the app's own).
"""

import glob
import os
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
class JSONLogger(glogging.Logger):
    """gunicorn's logger, its own lines rendered as the app's JSON lines."""

    def setup(self, cfg):
        super().setup(cfg)
        from event_management_system.ops.logs import formatter

        for handler in self.error_log.handlers:
            handler.setFormatter(formatter("json"))


if env["DJANGO_LOG_FORMAT"] == "json":
    logger_class = JSONLogger

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


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_dir:
        shutil.rmtree(_made_metrics_dir, ignore_errors=True)
