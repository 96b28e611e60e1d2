"""The database backend's health check: no round trip on a quiet connection, a reconnect on one the server closed."""

import time

import psycopg
import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),  # autocommit: between requests a connection is idle
    pytest.mark.postgresql_only("the health check of marketplace.db.postgresql, seen from pg_stat_activity"),
]


def _other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"], host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
        password=settings["PASSWORD"], autocommit=True,
    )  # fmt: skip


def _last_query_of(backend_pid: int) -> str:
    with _other_connection() as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [backend_pid]).fetchone()[0]


def _check_as_at_the_start_of_a_request() -> None:
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_a_quiet_connection_is_reused_without_sending_anything():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement'")
    assert connection.health_check_enabled

    _check_as_at_the_start_of_a_request()

    assert _last_query_of(connection.connection.info.backend_pid) == "SELECT 'the last statement'"  # no SELECT 1


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    closed_pid = connection.connection.info.backend_pid
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [closed_pid])
        for _ in range(100):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [closed_pid]).fetchone():
                break
            time.sleep(0.05)

    _check_as_at_the_start_of_a_request()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone() == (42,)
    assert connection.connection.info.backend_pid != closed_pid


def test_a_connection_inside_a_transaction_gets_django_s_own_check():
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT 'inside'")

    _check_as_at_the_start_of_a_request()

    assert _last_query_of(connection.connection.info.backend_pid) == "SELECT 1"
    with connection.cursor() as cursor:
        cursor.execute("ROLLBACK")
