"""Every shell example of the README and the documentation site runs, as written, and answers
what its comment promises.

The convention (docs/development/contributing.md): each ```sh block of a page is pasted, in page
order, into one bash shell per page, against `make run` started by this test on a free port in
place of 127.0.0.1:8000 (development mode, on a fresh database it loads the sample data into);
a page that opens
with `<!-- examples: own server -->` starts its server in its own blocks. A comment
`# → 201` after a command promises that its last HTTP request answered 201; `# → 409
event_full` also that the text appears in what the page printed since the previous promise;
`# → text` only the text. A block that cannot run here says why on the line before its fence:
`<!-- example not run: <reason> -->`. Every command must succeed (`set -euo pipefail`), and
the shell finds only what a fresh Debian has (its Essential packages) plus the programs the
install page asks for.
"""

import http.server
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from testing.servers import PROJECT_DIR, database_url, free_port, server_environment

DOCS = PROJECT_DIR / "docs"
# What the install page says a machine needs, beyond a fresh Debian.
PREREQUISITES = ("python3", "make", "curl")
OWN_SERVER = "<!-- examples: own server -->"
NOT_RUN = re.compile(r"<!-- example not run: (?P<reason>[^>]+) -->\s*$")
PROMISE = re.compile(r"#\s*→\s*(?P<promise>.+?)\s*$")
PAGE_SECONDS = 120

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)


@dataclass
class Block:
    line: int
    text: str
    not_run: str | None


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
            marker = NOT_RUN.search(lines[start - 1]) if start else None
            found.append(Block(start + 1, "\n".join(body), marker and marker["reason"]))
        index += 1
    return found


def label(page: Path) -> str:
    return str(page.relative_to(PROJECT_DIR)) if page.is_relative_to(PROJECT_DIR) else page.name


PRELUDE = r"""
set -euo pipefail
__docs_offset=0
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
"""


def script(page: Path, port: int) -> tuple[str, int, list[str]]:
    """The page's runnable blocks as one bash script; how many blocks, and the reasons of
    those not run."""
    parts, ran, not_run = [PRELUDE], 0, []
    for block in blocks(page):
        if block.not_run:
            not_run.append(f"{label(page)}:{block.line}: {block.not_run}")
            continue
        ran += 1
        parts.append(f"# {label(page)}:{block.line}")
        for offset, written in enumerate(block.text.splitlines(), start=1):
            line = written.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            parts.append(line)
            if promise := PROMISE.search(line):
                where = f"{label(page)}:{block.line + offset}"
                parts.append(f"__docs_expect {quote(promise['promise'])} {quote(where)}")
    return "\n".join(parts) + "\n", ran, not_run


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def fresh_machine_path(directory: Path) -> str:
    """A PATH holding what a fresh Debian has (its Essential packages) and the prerequisites."""
    if shutil.which("dpkg-query") is None:
        pytest.fail("dpkg-query is needed to know what a fresh Debian holds")
    essential = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Essential}\n"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    packages = [line.split()[0] for line in essential.splitlines() if line.endswith(" yes")]
    listed = subprocess.run(["dpkg", "-L", *packages], capture_output=True, text=True).stdout
    programs = {
        Path(path).name: path
        for path in listed.splitlines()
        if re.match(r"^(/usr)?/s?bin/[^/]+$", path) and os.access(path, os.X_OK)
    }
    for name in PREREQUISITES:
        programs[name] = shutil.which(name) or pytest.fail(f"{name} is not installed")
    directory.mkdir()
    for name, path in programs.items():
        (directory / name).symlink_to(path)
    return str(directory)


def run_page(page: Path, *, port: int, bin_dir: Path, env: dict[str, str]) -> tuple[int, int]:
    """Runs the page's examples; the number of blocks run and of promises kept."""
    text, ran, _ = script(page, port)
    work = Path(tempfile.mkdtemp())
    out, statuses, kept = work / "out", work / "statuses", work / "kept"
    for path in (statuses, kept):
        path.touch()
    with out.open("w") as stdout:
        process = subprocess.Popen(
            ["bash", "-c", text],
            cwd=PROJECT_DIR,
            env={
                **env,
                "PATH": fresh_machine_path(bin_dir),
                "DOCS_OUT": str(out),
                "DOCS_STATUSES": str(statuses),
                "DOCS_KEPT": str(kept),
            },
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, stderr = process.communicate(timeout=PAGE_SECONDS)
        finally:
            # What the page started in the background (its own gunicorn) stops with it.
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    printed = out.read_text()
    assert process.returncode == 0, f"{label(page)} failed:\n{stderr}\nprinted:\n{printed}"
    promises = len(kept.read_text().splitlines())
    shutil.rmtree(work)
    return ran, promises


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


def report(page: Path, ran: int, promises: int) -> None:
    print(f"\n{label(page)}: {ran} example blocks run, {promises} promises kept")
    for block in blocks(page):
        if block.not_run:
            print(f"  not run: {label(page)}:{block.line}: {block.not_run}")


def own_server(page: Path) -> bool:
    return OWN_SERVER in (line.strip() for line in page.read_text().splitlines())


def runnable(page: Path) -> int:
    return sum(1 for block in blocks(page) if not block.not_run)


def test_the_examples_run_against_make_run_page_after_page(tmp_path, capsys):
    """One `make run`, as a reader starts it, and every page that relies on it, in order."""
    env = shell_environment()
    served = [page for page in pages() if runnable(page) and not own_server(page)]
    total = 0
    with make_run(env) as port:
        for index, page in enumerate(served):
            ran, promises = run_page(page, port=port, bin_dir=tmp_path / f"bin{index}", env=env)
            with capsys.disabled():
                report(page, ran, promises)
            assert ran == runnable(page)
            total += ran
    with capsys.disabled():
        for page in pages():
            if not runnable(page):
                report(page, 0, 0)
        print(f"{total} example blocks run against make run, on {len(served)} pages")


@pytest.mark.parametrize("page", [page for page in pages() if own_server(page)], ids=label)
def test_the_examples_of_a_page_with_its_own_server_run(page, tmp_path, capsys):
    ran, promises = run_page(
        page, port=free_port(), bin_dir=tmp_path / "bin", env=shell_environment()
    )
    with capsys.disabled():
        report(page, ran, promises)
    assert ran == runnable(page) > 0


def test_the_install_page_names_every_program_the_examples_need():
    text = (DOCS / "start/install.md").read_text()
    for name in PREREQUISITES:
        assert f"`{name}`" in text, name


def test_every_block_not_run_says_why_and_the_rest_promise_something():
    for page in pages():
        for block in blocks(page):
            if block.not_run:
                assert len(block.not_run.split()) >= 3, f"{label(page)}:{block.line}"
            else:
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
    with pytest.raises(AssertionError) as failure:
        run_page(page, port=free_port(), bin_dir=tmp_path / "bin", env=shell_environment())
    return str(failure.value)


def test_an_example_needing_a_program_a_fresh_machine_lacks_fails(tmp_path):
    # git is on every machine that cloned the project, and in no Essential package.
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
