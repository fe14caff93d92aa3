"""Every shell example of the README and the documentation site runs, as written, and answers
what its comment promises; none is skipped.

The convention (docs/development/contributing.md): each ```sh block of a page is pasted, in page
order, into one bash shell per page, against `make run` started by this test on a free port in
place of 127.0.0.1:8000 (development mode, on a fresh database it loads the sample data into);
a page that opens with `<!-- examples: own server -->` starts its server in its own blocks. A
comment `# → 201` after a command promises that its last HTTP request answered 201; `# → 409
event_full` also that the text appears in what the page printed since the previous promise;
`# → text` only the text; `# → until stopped: text` that the command before it serves until
stopped and prints the text (it runs in the background and is stopped when its block ends).
Every command must succeed (`set -euo pipefail`), and the shell finds only what a fresh Debian
has (its required packages) plus the programs the install page asks for and those the examples
install themselves.

What a reader's machine has and a test machine has not is stood in for: ports 8000 to 8099 are
free ports, `your PostgreSQL server` a throwaway database, `smtp.example.com:587` an SMTP sink,
and a run of the whole suite a run of a few of its tests (PYTEST_ADDOPTS).
"""

import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import yaml
from django.core.management import call_command

from testing.mail import smtp_sink
from testing.servers import PROJECT_DIR, database_url, free_port, server_environment

DOCS = PROJECT_DIR / "docs"
# What the install page says a machine needs, beyond a fresh Debian.
PREREQUISITES = ("python3", "make", "curl")
OWN_SERVER = "<!-- examples: own server -->"
SKIP_MARK = "<!-- example not run"
PROMISE = re.compile(r"#\s*→\s*(?P<promise>.+?)\s*$")
SERVES = re.compile(r"^until stopped(?::\s*(?P<text>.+))?$")
# The ports a page may name: 8000 is the API as `make run` serves it, the others its own.
PAGE_PORT = re.compile(r"(?<=127\.0\.0\.1:)(80\d\d)\b|(?<=PORT=)(80\d\d)\b")
PAGE_SECONDS = 600
# How long a command that serves until stopped may take to print what it promises.
SERVE_SECONDS = 180
# A run of the whole suite in an example runs these, and never this test (it would recurse).
NESTED_SUITE = (
    "core/tests/test_models.py "
    "--deselect event_management_system/tests/test_doc_examples.py -p no:cacheprovider"
)
# The stand-in for `your PostgreSQL server`: a database this test creates and drops, on this
# server; its name, and those derived from it, must be unique to this run.
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
# What the pages name as their PostgreSQL database, and the production one.
PAGE_DATABASES = (
    "postgres://postgres@127.0.0.1:5432/events",
    "postgres://events:secret@db.internal:5432/events",
)

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)


@dataclass
class Block:
    line: int
    text: str


@dataclass
class StandIns:
    """What a reader's machine has and this one has not, for one run of the pages."""

    postgres_url: str
    mail_host: str
    mail_port: int
    mail_certificate: Path
    mail_report: "MailReport"
    ports: dict[int, int] = field(default_factory=dict)


def pages() -> list[Path]:
    """The README, then every page of the site's navigation, in order."""

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    nav = yaml.safe_load((PROJECT_DIR / "mkdocs.yml").read_text())["nav"]
    return [PROJECT_DIR / "README.md"] + [
        DOCS / page for page in walk(nav) if (DOCS / page).exists()
    ]


def blocks(page: Path) -> list[Block]:
    found, lines = [], page.read_text().splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```sh":
            start = index
            index += 1
            body = []
            while lines[index].strip() != "```":
                body.append(lines[index])
                index += 1
            found.append(Block(start + 1, "\n".join(body)))
        index += 1
    return found


def label(page: Path) -> str:
    return str(page.relative_to(PROJECT_DIR)) if page.is_relative_to(PROJECT_DIR) else page.name


PRELUDE = r"""
set -euo pipefail
__docs_offset=0
__docs_serving=()
# Records each request's status for the promises; the command's own output is untouched.
curl() {
  local args=() format="" rc=0 err
  while (($#)); do
    case "$1" in
      -w|--write-out) format="$2"; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  err=$(mktemp)
  command curl "${args[@]}" --write-out "${format}%{stderr}__docs_status__ %{http_code}\n" \
    2>"$err" || rc=$?
  grep -v '^__docs_status__ ' "$err" >&2 || true
  sed -n 's/^__docs_status__ //p' "$err" >>"$DOCS_STATUSES"
  rm -f "$err"
  return $rc
}
# The programs of the packages an example installs join the fresh machine's.
apt-get() {
  command apt-get "$@"
  local package
  for package in "$@"; do
    [[ "$package" == -* || "$package" == install || "$package" == update ]] && continue
    dpkg -L "$package" 2>/dev/null | grep -E '^(/usr)?/s?bin/[^/]+$' | while read -r program; do
      ln -sf "$program" "$DOCS_BIN/"
    done
  done
}
__docs_expect() {
  local promise="$1" where="$2" status text printed
  printed=$(tail -c +$((__docs_offset + 1)) "$DOCS_OUT")
  __docs_offset=$(stat -c %s "$DOCS_OUT")
  if [[ "$promise" =~ ^([0-9]{3})([[:space:]]+(.*))?$ ]]; then
    status="${BASH_REMATCH[1]}"
    text="${BASH_REMATCH[3]}"
    local got
    got=$(tail -n 1 "$DOCS_STATUSES")
    if [[ "$got" != "$status" ]]; then
      echo "$where: promised $status, answered $got" >&2
      exit 97
    fi
  else
    text="$promise"
  fi
  if [[ -n "$text" && "$printed" != *"$text"* ]]; then
    echo "$where: promised output containing: $text" >&2
    echo "printed: $printed" >&2
    exit 98
  fi
  echo "__docs_kept__ $where" >>"$DOCS_KEPT"
}
# Runs the command on standard input in the background, in a process group of its own, until
# it has printed the text (or, without one, for a few seconds) and still serves; the block's
# end stops it.
__docs_serve() {
  local text="$1" where="$2" command pid start settle deadline
  command=$(cat)
  start=$(stat -c %s "$DOCS_OUT")
  set -m
  ( eval "$command" ) >>"$DOCS_OUT" 2>&1 &
  pid=$!
  set +m
  __docs_serving+=("$pid")
  settle=$((SECONDS + 3))
  deadline=$((SECONDS + DOCS_SERVE_SECONDS))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$where: stopped instead of serving; it printed:" >&2
      tail -c +$((start + 1)) "$DOCS_OUT" >&2
      exit 96
    fi
    if [[ -n "$text" ]]; then
      tail -c +$((start + 1)) "$DOCS_OUT" | grep -qF -- "$text" && break
    elif ((SECONDS >= settle)); then
      break
    fi
    if ((SECONDS > deadline)); then
      echo "$where: did not print within ${DOCS_SERVE_SECONDS}s: $text; it printed:" >&2
      tail -c +$((start + 1)) "$DOCS_OUT" >&2
      exit 96
    fi
    sleep 0.2
  done
  sleep 1
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$where: stopped right after it started; it printed:" >&2
    tail -c +$((start + 1)) "$DOCS_OUT" >&2
    exit 96
  fi
  __docs_offset=$(stat -c %s "$DOCS_OUT")
  echo "__docs_kept__ $where" >>"$DOCS_KEPT"
}
__docs_end_block() {
  local pid waited
  for pid in "${__docs_serving[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${__docs_serving[@]}"; do
    for waited in $(seq 1 100); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  __docs_serving=()
}
"""


def stand_in(line: str, standins: StandIns, *, serving: bool) -> str:
    """The line with this machine's stand-ins for the reader's ports and servers."""

    def port(match: re.Match) -> str:
        written = int(match.group(0))
        if written == 8000 and serving:
            written = -1  # a server the example starts, beside the one it talks to
        return str(standins.ports.setdefault(written, free_port()))

    line = PAGE_PORT.sub(port, line)
    for database in PAGE_DATABASES:
        line = line.replace(database, standins.postgres_url)
    line = line.replace("DJANGO_EMAIL_PORT=587", f"DJANGO_EMAIL_PORT={standins.mail_port}")
    return line.replace("smtp.example.com", standins.mail_host)


def script(page: Path, standins: StandIns) -> tuple[str, int]:
    """The page's blocks as one bash script, and how many blocks it holds."""
    parts, count = [PRELUDE], 0
    for block in blocks(page):
        count += 1
        parts.append(f"# {label(page)}:{block.line}")
        lines = block.text.splitlines()
        # A command that serves until stopped: the promise's own line, or the last command line
        # before it; the index of that command, for the line of each such promise.
        serving = {}
        for index, written in enumerate(lines):
            promise = PROMISE.search(written)
            if promise and SERVES.match(promise["promise"]):
                command = index
                while lines[command].lstrip().startswith("#") or not lines[command].strip():
                    command -= 1
                    assert command >= 0, f"{label(page)}:{block.line + index + 1}: no command"
                serving[index] = command
        commands = set(serving.values())
        for index, written in enumerate(lines):
            where = f"{label(page)}:{block.line + index + 1}"
            promise = PROMISE.search(written)
            if index in commands and index not in serving:
                continue  # written where its promise is
            if index in serving:
                command = stand_in(lines[serving[index]], standins, serving=True)
                text = SERVES.match(promise["promise"])["text"] or ""
                text = stand_in(text, standins, serving=True)
                parts.append(f"__docs_serve {quote(text)} {quote(where)} <<'__DOCS_COMMAND__'")
                parts.extend([command, "__DOCS_COMMAND__"])
                continue
            line = stand_in(written, standins, serving=False)
            parts.append(line)
            if promise := PROMISE.search(line):
                parts.append(f"__docs_expect {quote(promise['promise'])} {quote(where)}")
        parts.append("__docs_end_block")
    return "\n".join(parts) + "\n", count


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def fresh_machine_path(directory: Path) -> str:
    """A PATH holding what a fresh Debian has (its required packages: Essential ones, and what
    debootstrap's smallest variant adds, apt among them) and the prerequisites."""
    if shutil.which("dpkg-query") is None:
        pytest.fail("dpkg-query is needed to know what a fresh Debian holds")
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\n"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    packages = [
        line.split()[0]
        for line in installed.splitlines()
        if line.split()[1:2] == ["yes"] or line.endswith(" required")
    ]
    listed = subprocess.run(["dpkg", "-L", *packages], capture_output=True, text=True).stdout
    programs = {
        Path(path).name: path
        for path in listed.splitlines()
        if re.match(r"^(/usr)?/s?bin/[^/]+$", path) and os.access(path, os.X_OK)
    }
    # A name a program has through the alternatives system (awk: mawk on a fresh machine).
    fresh = set(programs.values())
    for directory_name in ("/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        for link in Path(directory_name).iterdir():
            if link.name in programs or not link.is_symlink():
                continue
            if not os.readlink(link).startswith("/etc/alternatives/"):
                continue
            candidates = subprocess.run(
                ["update-alternatives", "--list", link.name], capture_output=True, text=True
            ).stdout.split()
            if chosen := [path for path in candidates if path in fresh]:
                programs[link.name] = chosen[0]
    # The machine's own programs, not the virtual environment's this test may run in.
    outside = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if Path(entry).resolve() != Path(sys.prefix, "bin").resolve()
    )
    for name in PREREQUISITES:
        programs[name] = shutil.which(name, path=outside) or pytest.fail(f"{name} is missing")
    directory.mkdir()
    for name, path in programs.items():
        (directory / name).symlink_to(path)
    return str(directory)


def processes_of_session(session: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            found.append(int(stat.parent.name))
    return found


def stop_session(session: int) -> None:
    """Stops every process the page started, whatever process group it put them in."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of_session(session):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while processes_of_session(session) and time.monotonic() < deadline:
            time.sleep(0.2)


def page_environment(env: dict[str, str], standins: StandIns, work: Path) -> dict[str, str]:
    """The reader's environment, with the stand-ins a page's commands honour."""
    server = standins.postgres_url.rsplit("/", 1)
    return {
        **env,
        # `make run` and the servers a page starts: a free port of their own.
        "HOST": "127.0.0.1",
        "PORT": str(standins.ports.setdefault(-1, free_port())),
        "TMPDIR": str(work / "tmp"),
        # A run of the whole suite runs a few of its tests, never this one.
        "PYTEST_ADDOPTS": NESTED_SUITE,
        # CI's PostgreSQL pass (bash .ci/run) on a database of its own.
        "CI_PG_SERVER": server[0],
        "CI_PG_DATABASE": f"{server[1]}_ci",
        # The bench, briefly, its scratch database named after the stand-in's.
        "BENCH_PG": server[0],
        "BENCH_PG_PREFIX": f"{server[1]}_bench",
        "BENCH_SECONDS": "1",
        "BENCH_EVENTS": "200",
        # The mail server's certificate is trusted, as a real one would be.
        "SSL_CERT_FILE": str(standins.mail_certificate),
    }


def run_page(
    page: Path,
    *,
    port: int,
    bin_dir: Path,
    env: dict[str, str],
    standins: StandIns,
    own: bool = False,
) -> tuple[int, int]:
    """Runs the page's examples; the number of blocks run and of promises kept. `port` stands
    for 8000; a server a block starts gets a port of its own, unless the page has no other."""
    standins.ports = {8000: port, -1: port} if own else {8000: port}
    text, count = script(page, standins)
    work = Path(tempfile.mkdtemp())
    (work / "tmp").mkdir()
    out, statuses, kept = work / "out", work / "statuses", work / "kept"
    for path in (out, statuses, kept):
        path.touch()
    # The mail server's reports are printed with the page.
    standins.mail_report.target = out
    images = {path: path.read_bytes() for path in (DOCS / "images").iterdir()}
    timed_out = ""
    # What a terminal shows: the output and the errors, in one stream.
    with out.open("a") as stdout:
        process = subprocess.Popen(
            ["bash", "-c", text],
            cwd=PROJECT_DIR,
            env={
                **page_environment(env, standins, work),
                "PATH": fresh_machine_path(bin_dir),
                "DOCS_BIN": str(bin_dir),
                "DOCS_OUT": str(out),
                "DOCS_STATUSES": str(statuses),
                "DOCS_KEPT": str(kept),
                "DOCS_SERVE_SECONDS": str(SERVE_SECONDS),
            },
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            process.wait(timeout=PAGE_SECONDS)
        except subprocess.TimeoutExpired:
            timed_out = f" (stopped after {PAGE_SECONDS} s)"
        finally:
            # What the page started in the background (its servers) stops with it.
            stop_session(process.pid)
            process.wait()
            standins.mail_report.target = None
            # A screenshot an example refreshes stays as committed.
            for path, content in images.items():
                if path.read_bytes() != content:
                    path.write_bytes(content)
    printed = out.read_text()
    assert process.returncode == 0, f"{label(page)} failed{timed_out}; printed:\n{printed}"
    promises = len(kept.read_text().splitlines())
    written = sum(bool(PROMISE.search(line)) for b in blocks(page) for line in b.text.splitlines())
    assert promises == written, f"{label(page)}: {written} promises, {promises} kept:\n{printed}"
    shutil.rmtree(work)
    return count, promises


@contextmanager
def stand_ins() -> Iterator[StandIns]:
    """A throwaway PostgreSQL database (`DOCS_POSTGRES_URL`, or one named after this process)
    and an SMTP sink; both gone when the block ends, with the databases named after the first."""
    url = os.environ.get("DOCS_POSTGRES_URL") or f"{POSTGRES_SERVER}/docs_examples_{os.getpid()}"
    server, name = url.rsplit("/", 1)
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name

    def drop_all(connection) -> None:
        derived = connection.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s "
            "OR datname LIKE %s",
            (name, f"{name}\\_%", f"test\\_{name}%"),
        ).fetchall()
        for (database,) in derived:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        drop_all(connection)
        connection.execute(f'CREATE DATABASE "{name}"')
    report = MailReport()
    try:
        with smtp_sink(report) as mail:
            yield StandIns(
                postgres_url=url,
                mail_host=mail.host,
                mail_port=mail.port,
                mail_certificate=mail.certificate,
                mail_report=report,
            )
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            drop_all(connection)


class MailReport:
    """Where the mail server reports each message: the output of the page being run (as a
    reader would find the message in their mailbox), or nowhere between pages."""

    target: Path | None = None

    def open(self, mode: str):
        return (self.target or Path(os.devnull)).open(mode)


@contextmanager
def make_run(env: dict[str, str]) -> Iterator[int]:
    """`make run`, as the install page has it, on a free port and the test's empty database:
    it migrates, loads the sample data and serves with the email worker beside it. Yields the
    port; on leaving, stops it, and its log must hold no traceback."""
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                log.seek(0)
                assert process.poll() is None, log.read().decode()
                assert time.monotonic() < deadline, log.read().decode()
                time.sleep(0.2)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.seek(0)
        server_log = log.read().decode()
        log.close()
    assert "Traceback" not in server_log, server_log


def shell_environment() -> dict[str, str]:
    """A reader's environment: the test's database, and no setting the reader would not have."""
    env = {**server_environment(), "DATABASE_URL": database_url()}
    for name in ("DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS",
                 "DJANGO_SECURE_SSL_REDIRECT", "DJANGO_API_THROTTLE"):  # fmt: skip
        env.pop(name)
    return env


def report(page: Path, ran: int, promises: int, seconds: float) -> None:
    print(f"\n{label(page)}: {ran} example blocks run, {promises} promises kept ({seconds:.0f} s)")


def own_server(page: Path) -> bool:
    return OWN_SERVER in (line.strip() for line in page.read_text().splitlines())


def test_every_example_runs_page_after_page(tmp_path, capsys):
    """One `make run`, as a reader starts it, and every page that relies on it, in order; then
    each page that starts its own server. Every block of every page runs."""
    env = shell_environment()
    every = [page for page in pages() if blocks(page)]
    served = [page for page in every if not own_server(page)]
    total, started = 0, time.monotonic()
    with stand_ins() as standins:
        with make_run(env) as port:
            for index, page in enumerate(served):
                began = time.monotonic()
                ran, promises = run_page(
                    page, port=port, bin_dir=tmp_path / f"bin{index}", env=env, standins=standins
                )
                with capsys.disabled():
                    report(page, ran, promises, time.monotonic() - began)
                assert ran == len(blocks(page))
                total += ran
        for index, page in enumerate(page for page in every if own_server(page)):
            # A fresh database, as the page's own server would find on a reader's machine.
            call_command("flush", interactive=False, verbosity=0)
            began = time.monotonic()
            ran, promises = run_page(
                page,
                port=free_port(),
                bin_dir=tmp_path / f"own{index}",
                env=env,
                standins=standins,
                own=True,
            )
            with capsys.disabled():
                report(page, ran, promises, time.monotonic() - began)
            assert ran == len(blocks(page)) > 0
            total += ran
    assert total == sum(len(blocks(page)) for page in pages())
    with capsys.disabled():
        print(
            f"{total} example blocks in the README and the site, all of them run "
            f"({len(every)} pages, {time.monotonic() - started:.0f} s)"
        )


def test_no_page_skips_an_example():
    for page in pages():
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            assert SKIP_MARK not in line, f"{label(page)}:{number} skips an example"


def test_the_install_page_names_every_program_the_examples_need():
    text = (DOCS / "start/install.md").read_text()
    for name in PREREQUISITES:
        assert f"`{name}`" in text, name


def test_every_block_promises_something():
    for page in pages():
        for block in blocks(page):
            promises = [PROMISE.search(line) for line in block.text.splitlines()]
            assert any(promises), f"{label(page)}:{block.line} promises nothing"


def test_the_readme_links_only_to_pages_that_exist():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (PROJECT_DIR / "README.md").read_text())
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert local
    for link in local:
        assert (PROJECT_DIR / link).exists(), link


def run_written(tmp_path: Path, text: str) -> str:
    """Runs a page holding `text` as its one example; what the test reports when it fails."""
    page = tmp_path / "page.md"
    page.write_text(f"```sh\n{text}\n```\n")
    with stand_ins() as standins, pytest.raises(AssertionError) as failure:
        run_page(
            page,
            port=free_port(),
            bin_dir=tmp_path / "bin",
            env=shell_environment(),
            standins=standins,
        )
    return str(failure.value)


def test_an_example_needing_a_program_a_fresh_machine_lacks_fails(tmp_path):
    # git is on every machine that cloned the project, and in no required package.
    assert shutil.which("git")
    report = run_written(tmp_path, "git --version   # → git version")
    assert "git: command not found" in report


def test_an_example_answering_other_than_promised_fails(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"  # answers 501 to every GET
        report = run_written(tmp_path, f"curl -s {url}   # → 200")
    finally:
        server.shutdown()
        server.server_close()
    assert "promised 200, answered 501" in report


def test_a_server_that_stops_instead_of_serving_fails(tmp_path):
    report = run_written(tmp_path, "python3 -c 'print(\"up\")'\n# → until stopped: up")
    assert "stopped right after it started" in report or "stopped instead of serving" in report
