"""Time `load_sample_data` on generated CSV files; print rows/s and peak memory.

usage: python bench/load_sample.py [EVENTS ATTENDEES ...]   (default: 1000 10000 10000 100000)
Each size loads in a process of its own, so peak memory compares across sizes. Runs against
DATABASE_URL's database, whose events and attendees it replaces.
"""

import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "event_management_system.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from core.sample_data import load_sample_data  # noqa: E402


def write_sample(folder: Path, events: int, attendees: int) -> tuple[Path, Path]:
    start = datetime(2031, 1, 1, 9, tzinfo=UTC)
    events_path, attendees_path = folder / "events.csv", folder / "attendees.csv"
    per_event = -(-attendees // events)
    with events_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "name", "location", "start_time", "end_time", "max_capacity"])
        for i in range(events):
            begins = start + timedelta(hours=i)
            ends = begins + timedelta(hours=2)
            writer.writerow(
                [f"e{i}", f"Event {i}", f"Hall {i % 50}", begins.isoformat(), ends.isoformat(),
                 per_event + 10]
            )  # fmt: skip
    with attendees_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_key", "name", "email"])
        for i in range(attendees):
            writer.writerow([f"e{i % events}", f"Guest {i}", f"guest{i}@example.com"])
    return events_path, attendees_path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(events: int, attendees: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        events_path, attendees_path = write_sample(Path(folder), events, attendees)
        before = peak_rss_mib()
        started = time.perf_counter()
        result = load_sample_data(events_path=events_path, attendees_path=attendees_path)
        seconds = time.perf_counter() - started
    rows = result.events + result.attendees
    print(
        f"load_sample_data  {result.events:>6} events {result.attendees:>7} attendees "
        f"in {seconds:6.2f}s  {rows / seconds:>7,.0f} rows/s  "
        f"peak memory +{peak_rss_mib() - before:.0f} MiB over the {before:.0f} MiB at start",
        flush=True,
    )


def main(sizes: list[int]) -> None:
    print(f"# load_sample_data on {connection.vendor}", flush=True)
    for events, attendees in zip(sizes[::2], sizes[1::2], strict=True):
        subprocess.run([sys.executable, __file__, "--one", str(events), str(attendees)], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        measure(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [1000, 10_000, 10_000, 100_000])
