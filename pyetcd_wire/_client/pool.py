"""One `Channel` per endpoint, opened when first needed, and the `Balancer`
that says which one the next call uses.

The client has two pools over one balancer: one for unary calls and one for
the stream worker (whose connections are its own, see stream_worker.py), so a
failure seen by either moves both away from the endpoint.  Either pool, on
picking while endpoints are quarantined, starts the health checks the
balancer says are due, with the client's `check_health` (a background thread
or task: see `_policy/balancer.py`).
"""

from __future__ import annotations

import threading
import time
from typing import (
    Callable,
    Collection,
    Dict,
    Generic,
    List,
    Optional,
    Protocol,
    Sequence,
    TypeVar,
)

from .. import _log
from .._policy.balancer import Balancer
from .._policy.endpoints import Endpoint
from ..errors import ClientClosedError, EtcdError


class PoolChannel(Protocol):
    """What the pool needs of a channel (`Channel`, `AsyncChannel`)."""

    endpoint: Endpoint

    def close(self) -> None: ...

    def forget(self) -> None: ...


C = TypeVar("C", bound=PoolChannel)


class ChannelPool(Generic[C]):
    """Channels to the balancer's endpoints; thread-safe.
    `check_health(endpoint)` starts a health check of an endpoint whose
    quarantine is over (without waiting for it), which ends with
    `health_checked`."""

    def __init__(
        self,
        balancer: Balancer,
        new_channel: Callable[[Endpoint], C],
        check_health: Optional[Callable[[Endpoint], None]] = None,
    ) -> None:
        self.balancer = balancer
        self._new_channel = new_channel
        self._check_health = check_health
        self._lock = threading.Lock()
        # Keyed by the endpoint's text: a str hashes in C, where Endpoint's
        # __hash__ is a Python call on every pick.
        self._channels: Dict[str, C] = {}
        self._closed = False

    def pick(self) -> C:
        """The channel for the next call (round robin, healthy first)."""
        balancer = self.balancer
        if balancer.quarantined_count:
            endpoint = self._chosen(balancer.pick)
        else:
            endpoint = balancer.next()
        channel = self._channels.get(endpoint.text)
        return channel if channel is not None else self.channel(endpoint)

    def pick_untried(self, tried: Collection[Endpoint]) -> C:
        """The channel for a call's next attempt: to an endpoint the call
        has not `tried` yet while a healthy one is left
        (`Balancer.pick_untried`)."""
        endpoint = self._chosen(lambda now: self.balancer.pick_untried(now, tried))
        channel = self._channels.get(endpoint.text)
        return channel if channel is not None else self.channel(endpoint)

    def _chosen(self, choose: Callable[[float], Endpoint]) -> Endpoint:
        """`choose(now)`, under the lock, once the health checks due are
        started, so that an endpoint whose quarantine just ended is not
        picked before it answered one."""
        check = self._check_health
        now = time.monotonic()
        with self._lock:
            due: List[Endpoint] = []
            if check is not None and self.balancer.quarantined_count:
                due = self.balancer.health_checks_due(now)
            endpoint = choose(now)
        if check is not None:
            for unwell in due:
                check(unwell)
        return endpoint

    def channel(self, endpoint: Endpoint) -> C:
        """The channel to exactly `endpoint` (created if needed, even for an
        endpoint not in the list: it is then the caller's to close)."""
        with self._lock:
            if self._closed:
                raise ClientClosedError()
            channel = self._channels.get(endpoint.text)
            if channel is None:
                channel = self._new_channel(endpoint)
                if endpoint in self.balancer.endpoints:
                    self._channels[endpoint.text] = channel
            return channel

    def owns(self, channel: C) -> bool:
        return self._channels.get(channel.endpoint.text) is channel

    def failed(self, endpoint: Endpoint, why: str) -> None:
        now = time.monotonic()
        with self._lock:
            health = self.balancer.failed(endpoint, now, why)
            facts = None if health is None else (health.until, health.failures)
        if facts is not None:  # logged outside the lock
            _log.quarantined(endpoint.text, facts[0] - now, facts[1], why)

    def stream_failed(self, endpoint: Endpoint, error: EtcdError) -> None:
        """A stream to `endpoint` failed, or could not open: if it may resume,
        the endpoint is avoided for a while, so it resumes on another one."""
        from .._policy.resume import retryable  # loaded with the first stream

        if retryable(error, watch=False):
            self.failed(endpoint, str(error))

    def succeeded(self, channel: C) -> None:
        with self._lock:
            ended = self.balancer.succeeded(channel.endpoint)
        if ended:
            _log.quarantine_ended(channel.endpoint.text, checked=False)

    def health_checked(self, endpoint: Endpoint, why: Optional[str]) -> None:
        """The health check of `endpoint` ended (`why`: see
        `Balancer.health_checked`)."""
        now = time.monotonic()
        with self._lock:
            health = self.balancer.health_checked(endpoint, now, why)
            facts = None if health is None else (health.until, health.failures)
        if facts is None:
            return
        if why is None:
            _log.quarantine_ended(endpoint.text, checked=True)
        else:
            _log.quarantined(endpoint.text, facts[0] - now, facts[1], why)

    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        """Use `endpoints` from now on; channels to the others are closed
        (their calls in flight fail with ConnectionLostError and are retried
        where their retry class allows)."""
        with self._lock:
            self.balancer.set_endpoints(endpoints)
            keep = {e.text for e in self.balancer.endpoints}
            gone = [c for e, c in self._channels.items() if e not in keep]
            self._channels = {e: c for e, c in self._channels.items() if e in keep}
        for channel in gone:
            channel.close()

    def channels(self) -> List[C]:
        with self._lock:
            return list(self._channels.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()

    def after_fork(self, balancer: Balancer, *, closed: bool) -> ChannelPool[C]:
        """In a forked child (`_fork.py`): a new pool like this one, over
        `balancer`, with no channel yet (closed if the client is); this one
        forgets its channels (`forget`)."""
        pool = ChannelPool(balancer, self._new_channel, self._check_health)
        pool._closed = closed
        self.forget()
        return pool

    def forget(self) -> None:
        """In a forked child: forget the parent's channels without a word to
        the servers (`_fork.py`); the pool stays closed.  Takes no lock."""
        self._lock = threading.Lock()
        self._closed = True
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.forget()


__all__ = ["ChannelPool"]
