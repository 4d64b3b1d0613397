"""Per-client quotas: requests per second and per day, in fixed windows.

A window is a calendar second or a calendar day (in the hub's time zone); a client may make
at most its quota of requests in each. Fixed windows rather than a token bucket because the
count is then exact and the same in one process and across processes: one counter per
client and window, checked and incremented together. A refused request does not count.

One process keeps the counters in memory (``LocalQuotas``). Several workers or replicas
share them through Redis (``RedisQuotas``): one Lua script checks both windows and
increments both atomically, on Redis's clock so replicas with skewed clocks still agree.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.registry.cache import RegistryCache

log = logging.getLogger(__name__)

Limits = tuple[int | None, int | None]  # (per second, per day); None: unlimited


class QuotaPolicy:
    """The limits of a client: its subsystem's, else the hub's defaults."""

    def __init__(self, registry: RegistryCache, default: Limits, tz: str) -> None:
        self.registry = registry
        self.default = default
        self.tz = ZoneInfo(tz)
        self._offset_minute: int | None = None
        self._offset = 0

    def limits(self, client: str) -> Limits:
        own = self.registry.snapshot.quotas.get(client)
        if own is None:
            return self.default
        return (
            own[0] if own[0] is not None else self.default[0],
            own[1] if own[1] is not None else self.default[1],
        )

    def utc_offset_s(self, now: float) -> int:
        """Seconds the hub's time zone is ahead of UTC at ``now``: where its days begin.

        Asked on every exchange under a quota; worked out once a minute (zones change
        their offset on whole minutes): the zone lookup took 0.63 us of the quota's 1.0,
        against 0.17 now (timeit; bench/profile_notes.md, fifth round).
        """
        minute = int(now // 60)
        if minute != self._offset_minute:
            offset = datetime.fromtimestamp(now, self.tz).utcoffset()
            self._offset = int(offset.total_seconds()) if offset else 0
            self._offset_minute = minute
        return self._offset


class LocalQuotas:
    """Exact quotas for one process."""

    def __init__(self, policy: QuotaPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.clock = clock
        # client -> [second, count in it, day, count in it]
        self._windows: dict[str, list[int]] = {}

    async def __call__(self, client: str) -> float | None:
        return self.take(client)

    def take(self, client: str) -> float | None:
        """Count one request of ``client``; None if allowed, else seconds to wait."""
        rps, per_day = self.policy.limits(client)
        if rps is None and per_day is None:
            return None
        now = self.clock()
        second = int(now)
        day = (second + self.policy.utc_offset_s(now)) // 86400
        w = self._windows.get(client)
        if w is None:
            w = self._windows[client] = [second, 0, day, 0]
        if w[0] != second:
            w[0], w[1] = second, 0
        if w[2] != day:
            w[2], w[3] = day, 0
        # The day first: a client over both would be refused again at the second's end.
        if per_day is not None and w[3] >= per_day:
            return _until_next_day(now, self.policy.utc_offset_s(now))
        if rps is not None and w[1] >= rps:
            return max(second + 1 - now, 0.001)
        w[1] += 1
        w[3] += 1
        return None


def _until_next_day(now: float, offset_s: int) -> float:
    local = now + offset_s
    return math.floor(local / 86400 + 1) * 86400 - local


# KEYS[1]: the client's key prefix. ARGV: rps, per day (-1: none), UTC offset in seconds.
# Returns {0} when allowed, else {1, milliseconds to wait}: to the day's end when the day is
# full, whatever the second (the day first, as in LocalQuotas.take).
TAKE_SCRIPT = """
local rps, per_day, offset = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local second = tonumber(t[1])
local day = math.floor((second + offset) / 86400)
local skey = KEYS[1] .. ':s:' .. second
local dkey = KEYS[1] .. ':d:' .. day
if per_day >= 0 and tonumber(redis.call('GET', dkey) or '0') >= per_day then
  return {1, (day + 1) * 86400000 - (now_ms + offset * 1000)}
end
if rps >= 0 and tonumber(redis.call('GET', skey) or '0') >= rps then
  return {1, (second + 1) * 1000 - now_ms}
end
if rps >= 0 then
  redis.call('INCR', skey)
  redis.call('EXPIRE', skey, 2)
end
if per_day >= 0 then
  redis.call('INCR', dkey)
  redis.call('EXPIRE', dkey, 90000)
end
return {0}
"""


class RedisQuotas:
    """Quotas shared by every process using the same Redis.

    If Redis cannot be reached the hub keeps serving, with this process's own counters, and
    says so in its log: a quota is worth less than the exchanges it would stop. After a
    failure it counts locally for RETRY_AFTER_S before it asks Redis again: a Redis that
    accepted connections and never answered held every exchange with a quota for the whole
    socket timeout (0.5 s), for as long as it hung.
    """

    RETRY_AFTER_S = 5.0
    # Connections to Redis per process. Calls past them wait for one (a script takes well
    # under a millisecond) rather than fail: redis-py's own pool refused the 101st concurrent
    # call, which read as Redis gone, so a burst let every worker count alone.
    POOL_SIZE = 64

    def __init__(
        self,
        policy: QuotaPolicy,
        url: str,
        prefix: str = "hub:quota:",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.policy = policy
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=self.POOL_SIZE,
            timeout=0.5,  # for a free connection; then as for a Redis that does not answer
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            # A pooled connection a restarted Redis closed fails once when next used: tried
            # again at once on a new one. Without it each such connection made the process
            # count alone for RETRY_AFTER_S, one after another, for half a minute and more.
            # Not a timeout: a Redis that hangs would then hold each exchange twice as long.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self.client: Any = aioredis.Redis(connection_pool=pool)
        self.script = self.client.register_script(TAKE_SCRIPT)
        self.prefix = prefix
        self.fallback = LocalQuotas(policy)
        self.clock = clock
        self._warned = False
        self._retry_at = 0.0  # clock() before which Redis is not asked (after a failure)

    async def __call__(self, client: str) -> float | None:
        rps, per_day = self.policy.limits(client)
        if rps is None and per_day is None:
            return None
        if self._retry_at and self.clock() < self._retry_at:
            return self.fallback.take(client)
        offset = self.policy.utc_offset_s(time.time())
        try:
            # A hash tag keeps a client's keys on one Redis Cluster slot.
            result = await self.script(
                keys=[f"{self.prefix}{{{client}}}"],
                args=[-1 if rps is None else rps, -1 if per_day is None else per_day, offset],
            )
        except Exception as exc:  # Redis down or slow: fall back, do not refuse
            if not self._warned:
                log.warning("quota store unreachable (%s); counting in this process only", exc)
                self._warned = True
            self._retry_at = self.clock() + self.RETRY_AFTER_S
            return self.fallback.take(client)
        if self._warned:
            log.warning("quota store reachable again; quotas are shared again")
        self._warned = False
        self._retry_at = 0.0
        if int(result[0]) == 0:
            return None
        return max(int(result[1]), 1) / 1000.0

    async def close(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.aclose()  # a pool given to Redis() is not closed by it
