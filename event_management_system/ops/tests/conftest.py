import pytest

from event_management_system.ops.endpoints import forget_readiness


@pytest.fixture(autouse=True)
def _fresh_readiness():
    """Each test's /readyz checks afresh, and leaves no check's connection open."""
    yield
    forget_readiness()
