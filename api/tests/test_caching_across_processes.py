"""Every gunicorn worker's cache sees a write made by another process, such as a shell."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.db import connection

from api.tokens import issue_token
from core.models import Attendee
from testing.servers import PROJECT_DIR, database_url, gunicorn

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="change versions are kept on PostgreSQL only"
    ),
]

# Enough requests on fresh connections that each of the 4 workers answers some of them.
READS = 40


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def shell(code: str) -> None:
    """Run `code` in `manage.py shell`, a process of its own, on the test database."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url()},
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_a_write_from_a_shell_is_seen_by_every_worker_at_once(event_factory):
    event = event_factory(name="Before", max_capacity=10)
    # Open access, as the seed and the load bench serve: anonymous reads of the attendee list.
    with gunicorn(workers=4, env={"DJANGO_API_OPEN_ACCESS": "true"}) as url:
        paths = {
            "detail": f"{url}/api/events/{event.pk}/",
            "list": f"{url}/api/events/",
            "attendees": f"{url}/api/events/{event.pk}/attendees/",
        }
        for _ in range(READS):
            assert fetch(paths["detail"])["name"] == "Before"
            assert fetch(paths["list"])["results"][0]["attendee_count"] == 0
            assert fetch(paths["attendees"])["count"] == 0

        shell(
            "from core.models import Attendee, Event\n"
            f"Event.objects.filter(pk={event.pk}).update(name='After')\n"
            f"Attendee.objects.bulk_create([Attendee(event_id={event.pk}, name=f'A{{i}}',"
            " email=f'a{i}@x.io') for i in range(3)])\n"
        )

        for _ in range(READS):
            detail = fetch(paths["detail"])
            assert (detail["name"], detail["attendee_count"]) == ("After", 3)
            assert fetch(paths["list"])["results"][0]["attendee_count"] == 3
            assert fetch(paths["attendees"])["count"] == 3


def test_an_owners_answer_never_reaches_an_anonymous_client(event_factory, django_user_model):
    owner = django_user_model.objects.create_user(username="owner", is_staff=True)
    event = event_factory(owner=owner)
    Attendee.objects.create(event=event, name="Ada", email="ada@example.com")
    token = issue_token(user=owner).token
    closed = {"DJANGO_API_OPEN_ACCESS": "false"}

    with gunicorn(workers=4, env=closed) as url:
        path = f"{url}/api/events/{event.pk}/attendees/"
        for _ in range(READS):
            owners = urllib.request.Request(path, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(owners, timeout=10) as response:
                assert response.status == 200
                assert "ada@example.com" in response.read().decode()
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(path, timeout=10)
            assert refused.value.code == 401
            assert "ada@example.com" not in refused.value.read().decode()
