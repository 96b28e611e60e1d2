"""Django's PostgreSQL backend, with a health check that costs no round trip while the connection is quiet.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request that reuses a persistent
connection: one of a claim's nine round trips (bench/claims.py). A connection the server closed, or is closing
(a restart, `pg_terminate_backend`, an idle timeout), has that news waiting on its socket: an error message, then
the end of the stream. So while libpq reports the connection good and idle and nothing waits on its socket, the
connection is used as it is; anything else gets Django's `SELECT 1` check. What neither detects at once is a peer
that vanished without a word (a network partition): `SELECT 1` would wait for TCP to give up as well.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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
