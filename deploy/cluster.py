"""The production shape on one machine: nginx balancing several gunicorn instances, PgBouncer
(transaction pooling) in front of PostgreSQL, and Redis holding the request budgets every
instance shares. Everything listens on 127.0.0.1 only.

    python -m deploy.cluster start | stop | status      (make cluster / make cluster-stop)

Its settings are the CLUSTER_* variables of docs/operations/configuration.md.

nginx and PgBouncer come from Debian's packages, installed with apt-get when missing (as root).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from event_management_system.config import BY_NAME, read

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEPLOY_DIR = PROJECT_DIR / "deploy"
PACKAGES = {"nginx": "nginx-light", "pgbouncer": "pgbouncer", "redis-server": "redis-server"}
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
START_SECONDS = 60
STOP_SECONDS = 30


def render(template: str, **values) -> str:
    """`template` with each {{NAME}} replaced by values[NAME]; an unknown name is an error."""
    text = template
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", str(value))
    if "{{" in text:
        raise ValueError(f"No value for a placeholder in: {text[text.index('{{') :][:40]!r}")
    return text


def render_pgbouncer(
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
    """Write pgbouncer.ini and its user list into `run_dir`; returns the ini's path.

    The statement and lock bounds are the app's own (DJANGO_DB_STATEMENT_TIMEOUT and
    DJANGO_DB_LOCK_TIMEOUT), set by PgBouncer on each server connection it opens.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    text = render(
        (DEPLOY_DIR / "pgbouncer.ini").read_text(),
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
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root: it drops to `postgres`, which writes its log here.
        shutil.chown(run_dir, "postgres", "postgres")
    return ini


def pgbouncer_command(ini: Path) -> list[str]:
    """PgBouncer in the foreground on `ini`, as the postgres user when started by root."""
    return [binary("pgbouncer"), *(["-u", "postgres"] if os.geteuid() == 0 else []), str(ini)]


def installed(name: str) -> bool:
    return shutil.which(name, path=SYSTEM_PATH) is not None


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=SYSTEM_PATH)
    if not found:
        raise SystemExit(f"{name} is not installed: apt-get install -y {PACKAGES[name]}")
    return found


def ensure_installed(*names: str) -> None:
    """Install Debian's packages for the commands that are missing (root only)."""
    missing = [name for name in names if not installed(name)]
    if not missing:
        return
    packages = [PACKAGES[n] for n in missing]
    if os.geteuid() != 0:
        raise SystemExit(f"Missing {', '.join(missing)}: apt-get install -y {' '.join(packages)}")
    print(f"Installing {' '.join(packages)} with apt-get", flush=True)
    # The packages' own services (nginx on 0.0.0.0:80, PgBouncer on 6432) are not to start:
    # only what this script starts runs, on 127.0.0.1.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
            result = subprocess.run(step, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"{' '.join(step)} failed:\n{result.stdout}{result.stderr}")
    finally:
        if added_policy:
            policy.unlink()


@dataclass
class Process:
    """A long-running process of the cluster, started in a session of its own."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def _default(name: str):
    """The default of a CLUSTER_* variable, as declared in event_management_system/config.py."""
    return field(default_factory=lambda: deepcopy(BY_NAME[name].default))


@dataclass
class Cluster:
    """Where each part of one cluster listens and keeps its files; a part not given takes the
    default of its CLUSTER_* variable."""

    run_dir: Path
    http_port: int = _default("CLUSTER_HTTP_PORT")
    app_ports: list[int] = _default("CLUSTER_APP_PORTS")
    workers: int = _default("CLUSTER_WORKERS")
    pgbouncer_port: int = _default("CLUSTER_PGBOUNCER_PORT")
    pg: str = _default("CLUSTER_PG")
    database: str = _default("CLUSTER_DATABASE")
    redis_url: str = _default("CLUSTER_REDIS_URL")
    pooler: str = _default("CLUSTER_POOLER")
    # Added to every instance's environment (after the cluster's own).
    app_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Cluster":
        env = read()
        return cls(
            run_dir=PROJECT_DIR / env["CLUSTER_RUN_DIR"],  # an absolute one stays as it is
            http_port=env["CLUSTER_HTTP_PORT"],
            app_ports=env["CLUSTER_APP_PORTS"],
            workers=env["CLUSTER_WORKERS"],
            pgbouncer_port=env["CLUSTER_PGBOUNCER_PORT"],
            pg=env["CLUSTER_PG"],
            database=env["CLUSTER_DATABASE"],
            redis_url=env["CLUSTER_REDIS_URL"],
            pooler=env["CLUSTER_POOLER"],
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def app_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.app_ports[index]}"

    @property
    def direct_database_url(self) -> str:
        return f"{self.pg}/{self.database}"

    @property
    def app_database_url(self) -> str:
        if self.pooler == "pgbouncer":
            user = urlsplit(self.pg).username or "postgres"
            return f"postgres://{user}@127.0.0.1:{self.pgbouncer_port}/{self.database}"
        return self.direct_database_url


def app_env(cluster: Cluster) -> dict[str, str]:
    """The environment every gunicorn instance and the email worker run with."""
    secret = cluster.run_dir / "secret_key"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(50))
        secret.chmod(0o600)
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secret.read_text().strip(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": cluster.app_database_url,
        "DJANGO_DB_POOLER": "pgbouncer" if cluster.pooler == "pgbouncer" else "",
        "REDIS_URL": cluster.redis_url,
        # nginx stands in front and appends the client's address to X-Forwarded-For.
        "DJANGO_TRUSTED_PROXIES": "1",
        # The example serves plain HTTP on 127.0.0.1; a public deploy terminates TLS in nginx
        # (X-Forwarded-Proto: https) and leaves the redirect on.
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        **cluster.app_env,
    }


def app_settings(cluster: Cluster) -> Mapping[str, Any]:
    """The settings every instance reads from its environment, as the app itself reads them."""
    return read({**os.environ, **app_env(cluster)})


def processes(cluster: Cluster) -> list[Process]:
    """The app's processes, started in this order once the database is migrated."""
    env = app_env(cluster)
    return [
        *(
            Process(f"app{number}", gunicorn_command(port, cluster.workers), env)
            for number, port in enumerate(cluster.app_ports, start=1)
        ),
        # The email worker: one is enough, more share the queue safely.
        Process("worker", [sys.executable, "manage.py", "send_emails"], env),
    ]


def gunicorn_command(port: int, workers: int) -> list[str]:
    # gunicorn.conf.py supplies the rest (threads, keep-alive, forwarded_allow_ips).
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--graceful-timeout", "10",
    ]  # fmt: skip


def start(cluster: Cluster) -> None:
    """Install what is missing, then start PgBouncer, the instances and nginx; returns once
    nginx answers. Whatever was started is stopped again if a step fails."""
    ensure_installed("nginx", *(["pgbouncer"] if cluster.pooler == "pgbouncer" else []))
    cluster.run_dir.mkdir(parents=True, exist_ok=True)
    cluster.run_dir.chmod(0o755)  # nginx's workers run as nobody and read below it
    try:
        ensure_redis(cluster.redis_url)
        if cluster.pooler == "pgbouncer":
            start_pgbouncer(cluster)
        create_database(cluster)
        migrate(cluster)
        for process in processes(cluster):
            launch(cluster, process)
        for index in range(len(cluster.app_ports)):
            wait_until_answering(cluster, cluster.app_url(index))
        start_nginx(cluster)
        wait_until_answering(cluster, cluster.url)
    except BaseException:
        stop(cluster)
        raise


def stop(cluster: Cluster) -> None:
    """Stop every process of the cluster: nginx first, then the app's, PgBouncer last."""
    stages: dict[int, list[Path]] = {}
    for pid_file in cluster.run_dir.glob("*.pid"):
        stages.setdefault(stop_order(pid_file), []).append(pid_file)
    for _, pid_files in sorted(stages.items()):
        terminate([pid for pid in map(read_pid, pid_files) if pid and alive(pid)])
        for pid_file in pid_files:
            pid_file.unlink(missing_ok=True)


def stop_order(pid_file: Path) -> int:
    return {"nginx": 0, "pgbouncer": 2}.get(pid_file.stem, 1)


def status(cluster: Cluster) -> dict[str, bool]:
    """Each started process by name: is it running?"""
    return {
        pid_file.stem: bool((pid := read_pid(pid_file)) and alive(pid))
        for pid_file in sorted(cluster.run_dir.glob("*.pid"), key=stop_order)
    }


def kill(cluster: Cluster, name: str) -> None:
    """SIGKILL a process and every process of its session at once, as a host dying would."""
    pid = read_pid(cluster.run_dir / f"{name}.pid")
    os.killpg(pid, signal.SIGKILL)


def launch(cluster: Cluster, process: Process) -> int:
    # The child keeps its own copy of the log's descriptor; this one closes at once.
    with open(cluster.run_dir / f"{process.name}.log", "ab") as log:
        child = subprocess.Popen(
            process.argv,
            cwd=PROJECT_DIR,
            env={**os.environ, **process.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (cluster.run_dir / f"{process.name}.pid").write_text(str(child.pid))
    return child.pid


def start_pgbouncer(cluster: Cluster) -> None:
    host, port = urlsplit(cluster.pg).hostname or "127.0.0.1", urlsplit(cluster.pg).port or 5432
    user = urlsplit(cluster.pg).username or "postgres"
    # PgBouncer sets the app's own statement and lock bounds on each server connection.
    settings = app_settings(cluster)
    ini = render_pgbouncer(
        cluster.run_dir / "pgbouncer",
        port=cluster.pgbouncer_port,
        pg_host=host,
        pg_port=port,
        user=user,
        statement_timeout=settings["DJANGO_DB_STATEMENT_TIMEOUT"],
        lock_timeout=settings["DJANGO_DB_LOCK_TIMEOUT"],
    )
    launch(cluster, Process("pgbouncer", pgbouncer_command(ini)))
    wait_until_listening(cluster, cluster.pgbouncer_port, "pgbouncer/pgbouncer.log")


def start_nginx(cluster: Cluster) -> None:
    temp = cluster.run_dir / "nginx-tmp"
    temp.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(temp, "nobody")
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;"
        for port in cluster.app_ports
    )
    conf = cluster.run_dir / "nginx.conf"
    conf.write_text(
        render(
            (DEPLOY_DIR / "nginx.conf").read_text(),
            RUN_DIR=cluster.run_dir,
            HTTP_PORT=cluster.http_port,
            UPSTREAM_SERVERS=servers,
            NGINX_WORKERS=2,
            CONNECTIONS_PER_ADDRESS=256,
        )
    )
    nginx = [
        binary("nginx"),
        "-p",
        str(cluster.run_dir),
        "-e",
        str(cluster.run_dir / "nginx-error.log"),
    ]
    check = subprocess.run([*nginx, "-t", "-q", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refuses its configuration:\n{check.stderr}")
    launch(cluster, Process("nginx", [*nginx, "-c", str(conf), "-g", "daemon off;"]))


def ensure_redis(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if listening(host, port):
        return
    if host not in {"127.0.0.1", "localhost"}:
        raise SystemExit(f"Redis at {url} does not answer")
    ensure_installed("redis-server")
    subprocess.run(
        [binary("redis-server"), "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not listening(host, port):
        if time.monotonic() > deadline:
            raise SystemExit(f"Redis did not start at {host}:{port}")
        time.sleep(0.1)


def create_database(cluster: Cluster) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{cluster.pg}/postgres", autocommit=True, connect_timeout=5) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [cluster.database]
        ).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cluster.database)))


def migrate(cluster: Cluster) -> None:
    # Directly, not through PgBouncer: a migration is one long session of DDL.
    env = {**os.environ, **app_env(cluster), "DATABASE_URL": cluster.direct_database_url}
    env.pop("DJANGO_DB_POOLER")
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}{result.stderr}")


def wait_until_answering(cluster: Cluster, url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            urllib.request.urlopen(f"{url}/readyz", timeout=5).close()
            return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer; logs in {cluster.run_dir}")
        time.sleep(0.2)


def wait_until_listening(cluster: Cluster, port: int, log: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not listening("127.0.0.1", port):
        if time.monotonic() > deadline:
            path = cluster.run_dir / log
            text = path.read_text() if path.exists() else ""
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port}:\n{text}")
        time.sleep(0.1)


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child of this process that has exited stays a zombie until reaped.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def terminate(pids: list[int]) -> None:
    """SIGTERM each process's session, then SIGKILL what is left after STOP_SECONDS."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_SECONDS
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    cluster = Cluster.from_env()
    if command == "start":
        stop(cluster)  # a cluster started before is replaced, not doubled
        start(cluster)
        print(f"The cluster answers at {cluster.url}/api/ (logs in {cluster.run_dir}); "
              "stop it with: make cluster-stop")  # fmt: skip
        for name, running in status(cluster).items():
            print(f"  {name:10} {'running' if running else 'STOPPED'}")
        return 0
    if command == "stop":
        stop(cluster)
        print("The cluster is stopped.")
        return 0
    if command == "status":
        states = status(cluster)
        for name, running in states.items():
            print(f"  {name:10} {'running' if running else 'STOPPED'}")
        return 0 if states and all(states.values()) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
