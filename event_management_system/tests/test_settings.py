"""Deploy-time settings come from the environment and fail loudly when unsafe."""

import os
import subprocess
import sys

from django.conf import settings

SETTINGS_CHECK = "import django; django.setup(); from django.conf import settings; print({})"


def settings_under(env: dict, expression: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-c", SETTINGS_CHECK.format(expression)],
        env={**clean, "DJANGO_SETTINGS_MODULE": "event_management_system.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_secret_key_refuses_to_start():
    result = settings_under({"DJANGO_DEBUG": "false"}, "settings.DEBUG")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false" in result.stderr


def test_production_with_secret_key_and_hosts():
    result = settings_under(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "s" * 50,
            "DJANGO_ALLOWED_HOSTS": "a.io,b.io",
        },
        "(settings.DEBUG, settings.ALLOWED_HOSTS)",
    )
    assert result.stdout.strip() == "(False, ['a.io', 'b.io'])"


def test_defaults_are_local_development_on_sqlite_in_the_project_root():
    result = settings_under(
        {}, "(settings.DEBUG, str(settings.DATABASES['default']['NAME']), settings.TIME_ZONE)"
    )
    expected = (True, str(settings.BASE_DIR / "db.sqlite3"), "UTC")
    assert result.stdout.strip() == repr(expected)


def test_postgres_url_keeps_connections_with_health_checks():
    result = settings_under(
        {"DATABASE_URL": "postgres://u@db.example:5432/events"},
        "{k: settings.DATABASES['default'][k] for k in ('ENGINE', 'NAME', 'CONN_MAX_AGE', "
        "'CONN_HEALTH_CHECKS')}",
    )
    assert "'ENGINE': 'django.db.backends.postgresql'" in result.stdout
    assert "'CONN_MAX_AGE': 600, 'CONN_HEALTH_CHECKS': True" in result.stdout


def test_sqlite_queues_writers_instead_of_failing():
    result = settings_under({}, "settings.DATABASES['default']['OPTIONS']")
    assert "'transaction_mode': 'IMMEDIATE'" in result.stdout
    assert "journal_mode=WAL" in result.stdout
    assert "'timeout': 30" in result.stdout
