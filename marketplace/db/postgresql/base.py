"""Django's PostgreSQL backend, with a health check that costs no round trip while the connection is quiet.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request that reuses a persistent
connection: one of a claim's nine round trips (bench/claims). A connection the server closed, or is closing
(a restart, `pg_terminate_backend`, an idle timeout), has that news waiting on its socket: an error message, then
the end of the stream. So while libpq reports the connection good and idle and nothing waits on its socket, the
connection is used as it is; anything else gets Django's `SELECT 1` check. What neither detects at once is a peer
that vanished without a word (a network partition): `SELECT 1` would wait for TCP to give up as well.

When no server answers at all, the error says so in plain words and names what to start (`DatabaseUnreachable`),
and Django's fallback for a missing `postgres` database, which would only add a misleading RuntimeWarning, is skipped.
"""

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql import base
from psycopg import pq

# libpq's words when nothing answered (as opposed to a server that answered "no": a password, a missing database).
NO_SERVER = (
    "Connection refused",
    "No such file or directory",
    "could not translate host name",
    "timeout expired",
    "Network is unreachable",
    "No route to host",
)


class DatabaseUnreachable(psycopg.OperationalError):
    """No PostgreSQL server answered at the configured address. Django wraps it in its OperationalError as it does
    any connection error, so everything that handles those (health checks, reconnects) is unchanged."""


def unreachable_message(settings_dict: dict[str, Any], error: Exception) -> str:
    where = f"{settings_dict.get('HOST') or 'localhost'}:{settings_dict.get('PORT') or 5432}"
    reason = str(error).strip().splitlines()[0]
    return (
        f"PostgreSQL is not running at {where} (or DATABASE_URL names the wrong server): {reason}\n"
        "Start it, e.g. `sudo service postgresql start` (Debian, Ubuntu), `brew services start postgresql` (macOS) "
        "or `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`, or point DATABASE_URL "
        "(for `make test`: TEST_DATABASE_URL) at a running server. `make run` needs none: without DATABASE_URL it "
        "uses SQLite."
    )


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as error:
            if any(words in str(error) for words in NO_SERVER):
                raise DatabaseUnreachable(unreachable_message(self.settings_dict, error)) from error
            raise

    @contextmanager
    def _nodb_cursor(self) -> Iterator[Any]:
        """Django's, except when no server answers: then the plain error, not a RuntimeWarning about the
        `postgres` database followed by the same failure on another database of the same server."""
        cursor = None
        try:
            with BaseDatabaseWrapper._nodb_cursor(self) as cursor:
                yield cursor
        except DatabaseError as error:
            if cursor is not None or isinstance(error.__cause__, DatabaseUnreachable):
                raise
            with super()._nodb_cursor() as cursor:  # the server answered: Django's fallback, warning and all
                yield cursor

    def close_if_health_check_failed(self) -> None:
        if self.health_check_enabled and not self.health_check_done and self._quiet():
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _quiet(self) -> bool:
        """Open, idle, and nothing from the server waiting to be read."""
        if self.connection is None or self.pool:
            return False
        pgconn = self.connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):  # a closed socket
            return False
        return not readable
