"""Fixtures of the core tests that not every package needs."""

import pytest

from testing.servers import gunicorn


@pytest.fixture
def gunicorn_server(transactional_db):
    """The app served by gunicorn with 4 worker processes on the test database; yields its URL."""
    with gunicorn(workers=4) as url:
        yield url
