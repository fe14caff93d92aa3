"""PgBouncer in transaction pooling mode, started from deploy/pgbouncer.ini, for tests and the
cluster script alike."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

from testing.servers import PROJECT_DIR, free_port

TEMPLATE = PROJECT_DIR / "deploy" / "pgbouncer.ini"
START_SECONDS = 15


def render(
    run_dir: Path,
    *,
    port: int,
    pg_host: str = "127.0.0.1",
    pg_port: int = 5432,
    user: str = "postgres",
    statement_timeout: float = 15,
    lock_timeout: float = 5,
    pool_size: int = 20,
) -> Path:
    """Write pgbouncer.ini and its userlist into `run_dir`; returns the ini's path."""
    text = Template(TEMPLATE.read_text()).substitute(
        PG_HOST=pg_host,
        PG_PORT=pg_port,
        PORT=port,
        RUN_DIR=run_dir,
        STATEMENT_TIMEOUT_MS=max(0, round(statement_timeout * 1000)),
        LOCK_TIMEOUT_MS=max(0, round(lock_timeout * 1000)),
        POOL_SIZE=pool_size,
    )
    ini = run_dir / "pgbouncer.ini"
    ini.write_text(text)
    (run_dir / "userlist.txt").write_text(f'"{user}" ""\n')
    return ini


def command(ini: Path) -> list[str]:
    """The command line that runs PgBouncer on `ini`, as an unprivileged user if we are root."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    # PgBouncer refuses to run as root; it drops to this user itself.
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    return [binary, *as_user, str(ini)]


def give_to_runner(run_dir: Path) -> None:
    """Let the user PgBouncer runs as write its log and pid file in `run_dir`."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(run_dir, entry.pw_uid, entry.pw_gid)


def installed() -> bool:
    return shutil.which("pgbouncer") is not None or Path("/usr/sbin/pgbouncer").exists()


@contextmanager
def pgbouncer(**settings) -> Iterator[int]:
    """Run PgBouncer in front of the PostgreSQL at 127.0.0.1:5432 until the block ends; yields
    its port. `settings` are render()'s (pg_port, statement_timeout, lock_timeout, ...)."""
    run_dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    ini = render(run_dir, port=port, **settings)
    give_to_runner(run_dir)
    process = subprocess.Popen(
        command(ini),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_listening(port, process, run_dir)
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # immediate shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


def _wait_until_listening(port: int, process: subprocess.Popen, run_dir: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = run_dir / "pgbouncer.log"
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"pgbouncer did not start: {text}") from None
            time.sleep(0.1)
