"""/healthz and /readyz as a prober meets them: JSON whatever it accepts, over plain HTTP, by
whatever host it knows the instance by, never redirected, cached or throttled."""

import pytest

from testing.servers import free_port

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# A pod's address: no ALLOWED_HOSTS entry names it.
POD_HOST = "10.20.30.40:8000"


def test_healthz_answers_without_the_database(client):
    # No django_db mark: any database access here would fail the test.
    response = client.get("/healthz", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_answers_ok_when_the_database_answers(client):
    response = client.get("/readyz", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_asks_redis_too_when_it_is_configured(client, settings, redis_url):
    settings.REDIS_URL = redis_url

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_redis_does_not_answer(client, settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "error"},
    }
    assert "Not ready: redis failed" in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_answered_for_any_host_over_plain_http(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(path, HTTP_HOST=POD_HOST)
    api = client.get("/api/events/", HTTP_HOST="127.0.0.1")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    # The same deploy redirects the API to HTTPS, and refuses the host it does not know.
    assert api.status_code == 301
    assert client.get("/api/events/", HTTP_HOST=POD_HOST).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_take_get_and_head_only(client, path):
    head = client.head(path)
    post = client.post(path)

    assert head.status_code == 200
    assert head.content == b""
    assert post.status_code == 405
    assert post.json()["code"] == "method_not_allowed"
    assert post["Allow"] == "GET, HEAD"
