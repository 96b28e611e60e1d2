"""The Redis cache backend, with one Redis client per connection pool and a one-round-trip counter.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache operation. With redis-py 8 that
fills a table of about 170 response callbacks each time: 2-4% of a claim/submit cycle's CPU in bench/claims.py,
where each request makes a cache call or two (throttle, answer counter). A `redis.Redis` is safe to share:
it takes a connection from its pool for each command.

`cache_count` is an atomic counter that also exists when it did not: one `INCRBY` on Redis (and an `EXPIRE` when
it created a counter with a timeout), where `cache.add` + `cache.incr` take two to three round trips and can lose
the key between them.
"""

from typing import Any

from django.core.cache import caches
from django.core.cache.backends import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count(self, key: str, delta: int = 1, timeout: float | None = DEFAULT_TIMEOUT) -> int:
        """Add `delta` to the counter at `key` (from 0 if missing) and return it; a new counter expires after
        `timeout` seconds (None: never)."""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        total = int(client.incrby(key, delta))
        seconds = self.get_backend_timeout(timeout)
        if seconds is not None and total == delta:  # this call created the counter
            client.expire(key, max(int(seconds), 1))
        return total


def cache_count(key: str, delta: int = 1, timeout: float | None = DEFAULT_TIMEOUT) -> int:
    """`RedisCache.count` on the default cache; on other backends (local memory when no Redis is configured) the
    same through `add` and `incr`."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return cache.count(key, delta, timeout)
    if cache.add(key, delta, timeout):
        return delta
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired between the two calls: start again
        cache.add(key, delta, timeout)
        return delta
