"""Deploy-time settings come from the environment and fail loudly when unsafe."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from testing.servers import database_url

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


def test_postgres_url_keeps_connections_without_a_query_per_request():
    result = settings_under(
        {"DATABASE_URL": "postgres://u@db.example:5432/events"},
        "{k: settings.DATABASES['default'][k] for k in ('ENGINE', 'NAME', 'CONN_MAX_AGE', "
        "'CONN_HEALTH_CHECKS')}",
    )
    assert "'ENGINE': 'event_management_system.postgresql'" in result.stdout
    # A broken kept connection is found by its error instead (test_kept_connections.py).
    assert "'CONN_MAX_AGE': 600, 'CONN_HEALTH_CHECKS': False" in result.stdout


def test_sqlite_queues_writers_instead_of_failing():
    result = settings_under({}, "settings.DATABASES['default']['OPTIONS']")
    assert "'transaction_mode': 'IMMEDIATE'" in result.stdout
    assert "journal_mode=WAL" in result.stdout
    assert "'timeout': 30" in result.stdout


POSTGRES = {"DATABASE_URL": "postgres://u@db.example:5432/events"}
TIMEOUTS = (
    "{k: settings.DATABASES['default']['OPTIONS'][k] for k in ('connect_timeout', "
    "'statement_timeout', 'lock_timeout')}"
)


def test_postgres_bounds_every_wait_by_default():
    result = settings_under(POSTGRES, TIMEOUTS)
    expected = {"connect_timeout": 5, "statement_timeout": 15, "lock_timeout": 5}
    assert result.stdout.strip() == repr(expected)


def test_database_timeouts_come_from_the_environment():
    result = settings_under(
        {
            **POSTGRES,
            "DJANGO_DB_CONNECT_TIMEOUT": "3",
            "DJANGO_DB_STATEMENT_TIMEOUT": "2.5",
            "DJANGO_DB_LOCK_TIMEOUT": "0",
        },
        TIMEOUTS,
    )
    expected = {"connect_timeout": 3.0, "statement_timeout": 2.5, "lock_timeout": 0.0}
    assert result.stdout.strip() == repr(expected)


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "5s"])
def test_a_timeout_that_is_not_seconds_refuses_to_start(value):
    result = settings_under({**POSTGRES, "DJANGO_DB_LOCK_TIMEOUT": value}, TIMEOUTS)
    assert result.returncode != 0
    assert f"DJANGO_DB_LOCK_TIMEOUT must be a number of seconds, got {value!r}" in result.stderr


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own settings")
def test_every_connection_carries_the_timeouts_to_the_server():
    # psycopg's execute() returns the cursor itself.
    query = (
        "__import__('django.db').db.connection.cursor().execute("
        "\"SELECT current_setting('statement_timeout'), current_setting('lock_timeout')\""
        ").fetchone()"
    )
    result = settings_under(
        {
            "DATABASE_URL": database_url(),
            "DJANGO_DB_STATEMENT_TIMEOUT": "2.5",
            "DJANGO_DB_LOCK_TIMEOUT": "0.25",
        },
        query,
    )
    assert result.stdout.strip() == "('2500ms', '250ms')", result.stderr


IDEMPOTENCY_TTL = "settings.IDEMPOTENCY_TTL.total_seconds() / 3600"


def test_idempotency_keys_are_kept_a_day_unless_configured():
    assert settings_under({}, IDEMPOTENCY_TTL).stdout.strip() == "24.0"
    configured = settings_under({"DJANGO_IDEMPOTENCY_TTL_HOURS": "6"}, IDEMPOTENCY_TTL)
    assert configured.stdout.strip() == "6.0"


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "a day"])
def test_an_idempotency_ttl_that_is_not_whole_hours_refuses_to_start(value):
    result = settings_under({"DJANGO_IDEMPOTENCY_TTL_HOURS": value}, IDEMPOTENCY_TTL)
    assert result.returncode != 0
    assert (
        f"DJANGO_IDEMPOTENCY_TTL_HOURS must be a whole number of hours from 1, got {value!r}"
        in result.stderr
    )


LOGS = "(settings.LOG_FORMAT, settings.READINESS_TIMEOUT, settings.METRICS_TOKEN)"
PRODUCTION_KEY = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "s" * 50}


def test_logs_are_for_people_while_debugging_and_json_in_production():
    assert settings_under({}, LOGS).stdout.strip() == "('console', 2, '')"
    assert settings_under(PRODUCTION_KEY, LOGS).stdout.strip() == "('json', 2, '')"
    chosen = {"DJANGO_LOG_FORMAT": "json", "DJANGO_READINESS_TIMEOUT": "0.5"}
    assert settings_under(chosen, LOGS).stdout.strip() == "('json', 0.5, '')"
    chosen = {**PRODUCTION_KEY, "DJANGO_LOG_FORMAT": "console", "DJANGO_METRICS_TOKEN": " t0k "}
    assert settings_under(chosen, LOGS).stdout.strip() == "('console', 2, 't0k')"


@pytest.mark.parametrize(
    ("name", "value"), [("DJANGO_LOG_FORMAT", "xml"), ("DJANGO_READINESS_TIMEOUT", "soon")]
)
def test_a_malformed_operations_setting_refuses_to_start(name, value):
    result = settings_under({name: value}, "settings.DEBUG")

    assert result.returncode != 0
    assert name in result.stderr


DATABASE_SETTINGS = (
    "(lambda d: (d['CONN_MAX_AGE'], d.get('DISABLE_SERVER_SIDE_CURSORS', False), "
    "{k: d['OPTIONS'].get(k) for k in ('prepare_threshold', 'send_timeouts', 'pool')}))"
    "(settings.DATABASES['default'])"
)


def test_direct_postgres_prepares_hot_statements_and_sends_its_timeouts():
    result = settings_under(POSTGRES, DATABASE_SETTINGS)
    expected = (
        600, False, {"prepare_threshold": 5, "send_timeouts": None, "pool": None}
    )  # fmt: skip
    assert result.stdout.strip() == repr(expected), result.stderr


def test_behind_pgbouncer_nothing_outlives_a_transaction():
    result = settings_under({**POSTGRES, "DJANGO_DB_POOLER": "pgbouncer"}, DATABASE_SETTINGS)
    # Kept connections to PgBouncer; no server-side cursors, prepared statements or startup
    # options, none of which transaction pooling carries from one transaction to the next.
    expected = (
        600, True, {"prepare_threshold": None, "send_timeouts": False, "pool": None}
    )  # fmt: skip
    assert result.stdout.strip() == repr(expected), result.stderr


CONNECTION_PARAMS = (
    "(lambda p: (p.get('options'), p['prepare_threshold'], 'send_timeouts' in p))"
    "(__import__('django.db').db.connection.get_connection_params())"
)


def test_the_backend_sends_startup_options_unless_behind_pgbouncer():
    direct = settings_under(POSTGRES, CONNECTION_PARAMS)
    bounced = settings_under({**POSTGRES, "DJANGO_DB_POOLER": "pgbouncer"}, CONNECTION_PARAMS)
    # client_connection_check_interval: a statement whose client the watchdog cut stops soon.
    options = (
        "-c statement_timeout=15000 -c lock_timeout=5000 -c client_connection_check_interval=1000"
    )
    assert direct.stdout.strip() == repr((options, 5, False)), direct.stderr
    assert bounced.stdout.strip() == repr((None, None, False)), bounced.stderr


def test_db_pool_lends_connections_from_a_pool_per_process():
    result = settings_under(
        {**POSTGRES, "DJANGO_DB_POOL": "true", "DJANGO_DB_POOL_MAX_SIZE": "6"}, DATABASE_SETTINGS
    )
    pool = {"min_size": 1, "max_size": 6, "timeout": 5}
    expected = (0, False, {"prepare_threshold": 5, "send_timeouts": None, "pool": pool})
    assert result.stdout.strip() == repr(expected), result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DB_POOLER": "pgpool"}, "DJANGO_DB_POOLER must be pgbouncer or empty"),
        ({"DJANGO_DB_POOLER": "pgbouncer", "DJANGO_DB_POOL": "true"}, "Choose one."),
        ({"DJANGO_DB_POOL": "maybe"}, "DJANGO_DB_POOL must be true or false"),
    ],
)
def test_pooling_choices_are_checked_at_start(env, message):
    result = settings_under({**POSTGRES, **env}, "settings.DATABASES")
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("env", [{"DJANGO_DB_POOLER": "pgbouncer"}, {"DJANGO_DB_POOL": "true"}])
def test_pooling_needs_postgres(env):
    result = settings_under(env, "settings.DATABASES")
    assert result.returncode != 0
    assert "need a PostgreSQL DATABASE_URL" in result.stderr
