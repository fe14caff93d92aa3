"""PgBouncer in transaction pooling mode, started from deploy/pgbouncer.ini as the cluster
starts it, on a free port for one test."""

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.cluster import installed as installed_tool
from deploy.cluster import listening, pgbouncer_command, render_pgbouncer
from testing.servers import free_port

START_SECONDS = 15


def installed() -> bool:
    return installed_tool("pgbouncer")


@contextmanager
def pgbouncer(**settings) -> Iterator[int]:
    """Run PgBouncer until the block ends; yields its port on 127.0.0.1. `settings` are
    render_pgbouncer()'s (pg_port, statement_timeout, lock_timeout, pool_size, ...)."""
    run_dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    ini = render_pgbouncer(run_dir, port=port, **settings)
    process = subprocess.Popen(
        pgbouncer_command(ini),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not listening("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                log = run_dir / "pgbouncer.log"
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"pgbouncer did not start: {text}")
            time.sleep(0.1)
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # PgBouncer's immediate shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)
