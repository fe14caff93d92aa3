"""Measure the production shapes against each other with wrk, and print a Markdown table.

    python -m deploy.measure [seconds]          (make scaling; BENCH_SECONDS, default 8)

One fresh PostgreSQL database, seeded as bench/run seeds it (2,000 upcoming events), then for
each setup a cluster of deploy/cluster.py on free ports: 1 gunicorn instance (4 workers) loaded
directly, or 3 instances (2 workers each) behind nginx; each connecting to PostgreSQL directly,
through PgBouncer, or (1 instance) through DJANGO_DB_POOL's pool. Each setup is loaded with
wrk (2 threads, MEASURE_CONNECTIONS connections, default 32) on the event list, registrations
for one hot event, and registrations spread over the 2,000 events.
env: MEASURE_PG (postgres://postgres@127.0.0.1:5432), CLUSTER_REDIS_URL.
"""

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from deploy import cluster as deploy
from deploy.cluster import PROJECT_DIR
from event_management_system.config import read

ENV = read()
PG = ENV["MEASURE_PG"]
CONNECTIONS = ENV["MEASURE_CONNECTIONS"]
LOADS = ("list", "hot", "spread")


@dataclass
class Setup:
    name: str
    instances: int
    workers: int
    pooler: str  # none | pgbouncer
    pool: bool = False


SETUPS = [
    Setup("1 instance, direct", 1, 4, "none"),
    Setup("1 instance, DJANGO_DB_POOL", 1, 4, "none", pool=True),
    Setup("1 instance, PgBouncer", 1, 4, "pgbouncer"),
    Setup("3 instances + nginx, direct", 3, 2, "none"),
    Setup("3 instances + nginx, PgBouncer", 3, 2, "pgbouncer"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(url: str, seconds: int, env: dict | None = None, script: bool = False) -> dict:
    """wrk's rate, p99 and failures for one load."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(PROJECT_DIR / "bench" / "register.lua")]
    result = subprocess.run(
        [*command, url], env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    out = result.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": float(rate.group(1)) if rate else 0.0,
        "p99": p99.group(1) if p99 else "?",
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


SLOW_CLIENTS = 16
SLOW_WINDOW = 20.0


def under_slow_clients(host: str, port: int, path: str) -> dict:
    """Normal GETs of `path` from 4 threads while SLOW_CLIENTS connections send their headers
    a byte a second (reconnecting when cut): the normal requests' p99 and slowest wait."""
    stop = threading.Event()
    latencies: list[float] = []
    lock = threading.Lock()

    def slow() -> None:
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 64
        while not stop.is_set():
            try:
                with socket.create_connection((host, port), timeout=5) as sock:
                    for byte in request:
                        if stop.wait(1.0):
                            return
                        sock.sendall(bytes([byte]))
            except OSError:
                continue  # cut by the server: open another

    def normal() -> None:
        while not stop.is_set():
            start = time.monotonic()
            conn = http.client.HTTPConnection(host, port, timeout=60)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            with lock:
                latencies.append(time.monotonic() - start)

    threads = [threading.Thread(target=slow) for _ in range(SLOW_CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    normals = [threading.Thread(target=normal) for _ in range(4)]
    for thread in normals:
        thread.start()
    time.sleep(SLOW_WINDOW)
    stop.set()
    for thread in [*threads, *normals]:
        thread.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else None,
        "max": latencies[-1] if latencies else None,
    }


def seed(database_url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_DEBUG": "true"}
    for command in (["manage.py", "migrate", "--noinput"], ["bench/seed.py"]):
        result = subprocess.run(
            [sys.executable, *command], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(result.stdout + result.stderr)
    return dict(line.split("=", 1) for line in result.stdout.split())


def measure(
    setup: Setup, database: str, ids: dict, seconds: int, run: int, slow: bool = False
) -> dict:
    the_cluster = deploy.Cluster(
        run_dir=Path(tempfile.mkdtemp(prefix="measure-")),
        http_port=free_port(),
        app_ports=[free_port() for _ in range(setup.instances)],
        workers=setup.workers,
        pgbouncer_port=free_port(),
        pg=PG,
        database=database,
        redis_url=ENV["CLUSTER_REDIS_URL"],
        pooler=setup.pooler,
        app_env={
            # It measures the API itself, as bench/run does: open, no request budgets.
            "DJANGO_API_OPEN_ACCESS": "true",
            "DJANGO_API_THROTTLE": "false",
            "DJANGO_DB_POOL": "true" if setup.pool else "false",
            "GUNICORN_THREADS": "4",
        },
    )
    deploy.start(the_cluster)
    try:
        url = the_cluster.url if setup.instances > 1 else the_cluster.app_url(0)
        time.sleep(1)
        results = {
            "list": wrk(f"{url}/api/events/", seconds),
            "hot": wrk(url, seconds, {"EVENT_ID": ids["hot"], "RUN_ID": f"h{run}"}, True),
            "spread": wrk(
                url,
                seconds,
                {"EVENT_RANGE": f"{ids['spread_low']}-{ids['spread_high']}", "RUN_ID": f"s{run}"},
                True,
            ),
        }
        if slow:
            # gunicorn's own port, then nginx's: the same instances behind each.
            path = f"/api/events/{ids['big']}/"
            results["slow_direct"] = under_slow_clients("127.0.0.1", the_cluster.app_ports[0], path)
            results["slow_nginx"] = under_slow_clients("127.0.0.1", the_cluster.http_port, path)
    finally:
        deploy.stop(the_cluster)
        shutil.rmtree(the_cluster.run_dir, ignore_errors=True)
    return results


def main(argv: list[str]) -> int:
    seconds = int(argv[1]) if len(argv) > 1 else 8
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    database = f"events_scaling_{int(time.time())}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        ids = seed(f"{PG}/{database}")
        rows = []
        for run, setup in enumerate(SETUPS):
            results = measure(setup, database, ids, seconds, run, slow=setup is SETUPS[-1])
            rows.append((setup, results))
            print(f"# {setup.name}: {results}", file=sys.stderr, flush=True)
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
    cores = os.cpu_count()
    print(
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {cores} cores, "
        f"wrk -t2 -c{CONNECTIONS} -d{seconds}s per line; 2,000 upcoming events.\n"
    )
    print(
        "| setup | list req/s | list p99 | register, one event req/s | p99 "
        "| register, spread req/s | p99 | failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for setup, r in rows:
        failed = sum(r[k]["failed"] for k in LOADS)
        errors = "; ".join(r[k]["socket_errors"] for k in LOADS if r[k]["socket_errors"])
        print(
            f"| {setup.name} | {r['list']['rate']:.0f} | {r['list']['p99']} "
            f"| {r['hot']['rate']:.0f} | {r['hot']['p99']} "
            f"| {r['spread']['rate']:.0f} | {r['spread']['p99']} "
            f"| {failed}{' (' + errors + ')' if errors else ''} |"
        )
    slow = rows[-1][1]
    print(
        f"\nNormal requests (4 clients in a loop, {SLOW_WINDOW:.0f} s) while {SLOW_CLIENTS} "
        "clients send headers at 1 byte/s, on the 3-instance cluster:\n"
    )
    print("| entry point | normal requests | p99 | slowest |")
    print("|---|---:|---:|---:|")
    for key, name in (("slow_direct", "one gunicorn instance's own port"), ("slow_nginx", "nginx")):
        r = slow[key]
        print(f"| {name} | {r['requests']} | {r['p99']:.3f} s | {r['max']:.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
