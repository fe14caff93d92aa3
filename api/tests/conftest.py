"""Fixtures of the API tests, and the fuzz run's counts printed when the session ends."""

from dataclasses import dataclass, field

import pytest

FUZZ_COUNTS = pytest.StashKey["FuzzCounts"]()


@dataclass
class FuzzCounts:
    """What the schema-driven fuzz run did: operations, requests sent, requests that failed."""

    operations: set[str] = field(default_factory=set)
    cases: int = 0
    failures: int = 0


@pytest.fixture(scope="session")
def fuzz_counts(pytestconfig) -> FuzzCounts:
    return pytestconfig.stash.setdefault(FUZZ_COUNTS, FuzzCounts())


def pytest_terminal_summary(terminalreporter, config):
    counts = config.stash.get(FUZZ_COUNTS, None)
    if counts is None:
        return
    from django.db import connection

    terminalreporter.write_sep(
        "=",
        f"fuzz run on {connection.vendor}: {len(counts.operations)} operations, "
        f"{counts.cases} cases, {counts.failures} failures",
    )
