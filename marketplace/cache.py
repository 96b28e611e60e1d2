"""The Redis cache backend, with one Redis client per connection pool and a one-round-trip counter.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache operation. With redis-py 8 that
fills a table of about 170 response callbacks each time: 2-4% of a claim/submit cycle's CPU in bench/claims,
where each request makes a cache call or two (throttle, answer counter). A `redis.Redis` is safe to share:
it takes a connection from its pool for each command.

`cache_count` is an atomic counter that also exists when it did not: one `INCRBY` on Redis (and an `EXPIRE` when
it created a counter with a timeout), where `cache.add` + `cache.incr` take two to three round trips and can lose
the key between them.

The cache fails open. Nothing in it is needed to serve a request correctly (throttle counters, the answer counter
that triggers aggregation, upload progress), so when Redis cannot be reached every operation answers what a miss
would (`get` its default, `add` False, `count` None: "unknown") and a warning is logged once per outage; claims and
submits go on, unthrottled, instead of answering 500. For `RETRY_AFTER_SECONDS` after a failure the process does not
even try, so a Redis that hangs costs one connect timeout per pause, not one per request.
"""

import logging
from collections.abc import Callable
from time import monotonic
from typing import Any

from django.core.cache import caches
from django.core.cache.backends import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# Per process, by server: until when (monotonic) it is considered down. Shared by every thread's cache instance.
_down_until: dict[str, float] = {}


def cache_outages_forget() -> None:
    """Forget every outage seen (tests: a new cache at the same address starts trusted)."""
    _down_until.clear()


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
        self._server = server

    def _fail_open(self, call: Callable[..., Any], fallback: Any, *args: Any, **kwargs: Any) -> Any:
        """`call(*args, **kwargs)`, or `fallback` while Redis cannot be reached."""
        down_until = _down_until.get(self._server)
        if down_until is not None and monotonic() < down_until:
            return fallback
        try:
            result = call(*args, **kwargs)
        except _UNREACHABLE as exc:
            if down_until is None:
                logger.warning("Redis cache unreachable (%s): failing open, throttles not counted.", exc)
            _down_until[self._server] = monotonic() + RETRY_AFTER_SECONDS
            return fallback
        if down_until is not None:
            logger.warning("The Redis cache is back.")
            _down_until.pop(self._server, None)
        return result

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._fail_open(super().get, default, key, default, version)

    def get_many(self, keys: Any, version: int | None = None) -> dict:
        return self._fail_open(super().get_many, {}, keys, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._fail_open(super().has_key, False, key, version)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._fail_open(super().add, False, key, value, timeout, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._fail_open(super().set, None, key, value, timeout, version)

    def set_many(self, data: dict, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list:
        return self._fail_open(super().set_many, list(data), data, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._fail_open(super().touch, False, key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._fail_open(super().delete, False, key, version)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._fail_open(super().delete_many, None, keys, version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._fail_open(super().incr, delta, key, delta, version)

    def clear(self) -> None:
        self._fail_open(super().clear, None)

    def count(self, key: str, delta: int = 1, timeout: float | None = DEFAULT_TIMEOUT) -> int | None:
        """Add `delta` to the counter at `key` (from 0 if missing) and return it; a new counter expires after
        `timeout` seconds (None: never). None while Redis cannot be reached."""
        return self._fail_open(self._count, None, key, delta, timeout)

    def _count(self, key: str, delta: int, timeout: float | None) -> int:
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        total = int(client.incrby(key, delta))
        seconds = self.get_backend_timeout(timeout)
        if seconds is not None and total == delta:  # this call created the counter
            client.expire(key, max(int(seconds), 1))
        return total


def cache_count(key: str, delta: int = 1, timeout: float | None = DEFAULT_TIMEOUT) -> int | None:
    """`RedisCache.count` on the default cache (None: the cache is down, the count unknown); on other backends
    (local memory when no Redis is configured) the same through `add` and `incr`."""
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
