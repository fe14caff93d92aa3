"""The one list of settings: read the same way by every program, documented from itself."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from event_management_system.config import SETTINGS, env_example, read, reference


@pytest.mark.parametrize(
    ("path", "generate"),
    [("docs/operations/configuration.md", reference), (".env.example", env_example)],
)
def test_the_configuration_reference_is_generated_from_the_list(path, generate):
    assert (Path(settings.BASE_DIR) / path).read_text() == generate(), (
        f"{path} differs from the list in event_management_system/config.py; regenerate it "
        "with `make docs-config` and commit it."
    )


def test_every_setting_has_a_description_and_a_section():
    assert len({setting.name for setting in SETTINGS}) == len(SETTINGS)
    for setting in SETTINGS:
        assert setting.description.strip(), setting.name
        assert setting.section, setting.name


@pytest.mark.parametrize(
    "path", ["event_management_system/settings.py", "gunicorn.conf.py", "deploy/cluster.py",
             "deploy/measure.py"],
)  # fmt: skip
def test_programs_read_settings_from_the_list_not_from_the_environment(path):
    text = (Path(settings.BASE_DIR) / path).read_text()
    reads = re.findall(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^]]+\](?!\s*=)", text)
    assert not reads, path


def test_defaults_follow_the_mode_and_other_settings():
    development, production = read({}), read({"DJANGO_DEBUG": "false"})
    assert (development["DJANGO_API_THROTTLE"], production["DJANGO_API_THROTTLE"]) == (
        False,
        True,
    )
    assert (development["DJANGO_LOG_FORMAT"], production["DJANGO_LOG_FORMAT"]) == (
        "console",
        "json",
    )
    assert read({"GUNICORN_THREADS": "7"})["DJANGO_DB_POOL_MAX_SIZE"] == 7
    assert development["FORWARDED_ALLOW_IPS"] == []
    assert read({"DJANGO_TRUSTED_PROXIES": "1"})["FORWARDED_ALLOW_IPS"] == ["127.0.0.1", "::1"]
    # A blank list is empty; other blank values mean the default.
    assert read({"DJANGO_ALLOWED_HOSTS": ""})["DJANGO_ALLOWED_HOSTS"] == []
    assert read({"CLUSTER_APP_PORTS": " "})["CLUSTER_APP_PORTS"] == [8081, 8082, 8083]


@pytest.mark.parametrize(
    ("name", "value"),
    [("GUNICORN_WORKERS", "many"), ("CLUSTER_APP_PORTS", "8081,x"), ("CLUSTER_POOLER", "pgpool"),
     ("DJANGO_CONN_MAX_AGE", "forever")],
)  # fmt: skip
def test_a_malformed_value_for_gunicorn_or_the_cluster_is_refused_by_name(name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        read({name: value})
