"""`manage.py check --deploy` warns of open access on a production server."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "s" * 50,
    "DJANGO_ALLOWED_HOSTS": "events.example.com",
}


def check(*args: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        env={**clean, **env}, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_open_access_in_production_is_a_deploy_warning():
    output = check("--deploy", **PRODUCTION, DJANGO_API_OPEN_ACCESS="true")

    assert "?: (api.W001) DJANGO_API_OPEN_ACCESS is on while DJANGO_DEBUG is false" in output
    assert "HINT: Set DJANGO_API_OPEN_ACCESS=false" in output


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--deploy"], PRODUCTION),  # open access follows DJANGO_DEBUG: off
        (["--deploy"], {**PRODUCTION, "DJANGO_API_OPEN_ACCESS": "false"}),
        (["--deploy"], {"DJANGO_DEBUG": "true", "DJANGO_API_OPEN_ACCESS": "true"}),
        ([], {**PRODUCTION, "DJANGO_API_OPEN_ACCESS": "true"}),  # a deploy check only
    ],
    ids=["production", "closed", "debugging", "without --deploy"],
)
def test_no_warning_otherwise(args, env):
    output = check(*args, **env)

    assert "api.W001" not in output
    assert "Traceback" not in output
