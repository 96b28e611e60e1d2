"""GET /health/ checks the database, the cache and (when configured) the broker's Redis, without logging in."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_health_answers_200_in_json_with_every_check_ok(client):
    response = client.get("/health/", {"format": "json"})

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    checks = response.json()
    assert set(checks.values()) == {"OK"}
    names = " ".join(checks)
    assert "Database" in names and "Cache" in names
    assert ("Redis" in names) == settings.CELERY_BROKER_URL.startswith("redis")
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_html_to_a_browser_and_json_to_an_api_client(client):
    assert client.get("/health/", HTTP_ACCEPT="text/html").status_code == 200
    assert client.get("/health/", HTTP_ACCEPT="application/json").json()
