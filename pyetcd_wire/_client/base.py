"""What `Client` and `AsyncClient` share: one constructor (docs/api.md,
"Client"), the options it checks, the call metadata and the balancer.  The
driver part of each client is its `_start()`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

from .. import _fork
from .._api.check import call_timeout
from .._policy.balancer import Balancer
from ..errors import DeadlineExceededError
from .options import Options
from .tls import TLS

if TYPE_CHECKING:
    import ssl

    from ..metrics import RpcMetrics

#: The oldest etcd the clients support (reject_old_cluster=True refuses older).
MIN_CLUSTER_VERSION = (3, 4)


def rand() -> float:
    """A uniform draw in [0, 1) for the policies' jitter.  `random` is
    imported at the first draw, after a failure, not with the client: a
    command line's single call never needs it."""
    import random

    return random.random()


def too_old(version: str) -> bool:
    """True for a server version older than MIN_CLUSTER_VERSION (or one that
    does not parse)."""
    try:
        numbers = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        return True
    return numbers < MIN_CLUSTER_VERSION


class ClientBase:
    """A client of one etcd cluster (the sync `Client` or `AsyncClient`).

    Args:
        endpoints: "host:port", "http://host:port" or "unix:///path", or a
            sequence of them.
        dial_timeout: bound, in seconds, on connecting to an endpoint.
        timeout: default per-call deadline in seconds (None: no deadline).
        max_send_message_size: the largest request message, in bytes.
        max_recv_message_size: the largest response message, in bytes; a
            larger one fails the call with ResourceExhaustedError.
        require_leader: send `hasleader=true`, so that a member without a
            leader refuses calls (NoLeaderError) instead of serving them.
        username, password: password auth: a token is obtained at the
            first call and refreshed when the server says it expired.
        keepalive_time, keepalive_timeout: HTTP/2 PING after this many
            seconds of silence on a connection with calls open (raised to
            the server's 5 s minimum); the connection is given up if nothing
            answers within keepalive_timeout.  None: no PINGs.
        auto_sync_interval: every this many seconds, set the endpoints from
            the member list (`sync()`), in a background thread.
        reject_old_cluster: at construction, ask every endpoint's version
            and refuse a member older than etcd 3.4 (OldClusterError).
        metrics: an `RpcMetrics` (e.g. `pyetcd_wire.metrics.PrometheusMetrics`)
            told of each call's start and outcome.
        tls: None, `pyetcd_wire.TLS(ca_file=, cert_file=, key_file=,
            server_name=)` or a ready `ssl.SSLContext` (offering ALPN "h2").
            `https://` endpoints always use TLS (the system's CAs without
            a config), `http://` never, bare `host:port` when `tls` is set.

    Raises:
        ValueError: a malformed endpoint or option.
        TypeError: `tls` of another type.
    """

    def __init__(
        self,
        endpoints: Union[str, Sequence[str]] = "127.0.0.1:2379",
        *,
        dial_timeout: Optional[float] = 5.0,
        timeout: Optional[float] = None,
        tls: Union[TLS, ssl.SSLContext, None] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        keepalive_time: Optional[float] = None,
        keepalive_timeout: float = 20.0,
        max_send_message_size: int = 2 * 1024 * 1024,
        max_recv_message_size: int = 2**31 - 1,
        require_leader: bool = False,
        auto_sync_interval: Optional[float] = None,
        reject_old_cluster: bool = False,
        metrics: Optional[RpcMetrics] = None,
    ) -> None:
        self._options = options = Options(
            endpoints,
            dial_timeout=dial_timeout,
            timeout=timeout,
            tls=tls,
            username=username,
            password=password,
            keepalive_time=keepalive_time,
            keepalive_timeout=keepalive_timeout,
            max_send_message_size=max_send_message_size,
            max_recv_message_size=max_recv_message_size,
            require_leader=require_leader,
            auto_sync_interval=auto_sync_interval,
            reject_old_cluster=reject_old_cluster,
            metrics=metrics,
        )
        self.timeout = timeout
        self.keepalive_time = keepalive_time
        self.keepalive_timeout = keepalive_timeout
        self._md = options.metadata
        self._balancer = Balancer(options.endpoints, rand=rand)
        self._start()
        _fork.track(self)  # its after-fork hook runs in forked children

    def _start(self) -> None:
        """The driver's part of the constructor."""
        raise NotImplementedError

    def _after_fork_in_child(self) -> None:
        """In a forked child (`_fork.py`): drop what is the parent's, take
        no lock, send nothing; the next call dials afresh."""
        raise NotImplementedError

    def _fresh_balancer(self) -> Balancer:
        """A balancer over the same endpoints, with no history: the
        inherited one may have been changed half-way when the parent forked."""
        self._balancer = Balancer(self._balancer.endpoints, rand=rand)
        return self._balancer

    def _timeout(self, timeout: Optional[float]) -> Optional[float]:
        """A stream's or a watch's `timeout=`: the client's default for None,
        else checked (`_api.check.call_timeout`) before anything is sent.

        Raises:
            DeadlineExceededError: 0 or less, a deadline already passed: no
                stream is opened (a watch's would start dialing at once).
        """
        if timeout is None:
            return self.timeout
        if call_timeout(timeout) <= 0:
            raise DeadlineExceededError(
                f"deadline exceeded before the call started (timeout={timeout})",
                connecting=True,
            )
        return timeout

    def _probe_timeout(self, deadline: Optional[float]) -> Optional[float]:
        """How long a probe of an endpoint may take: dial_timeout, within
        the call's `deadline` (both monotonic; None: no bound)."""
        timeout = self._options.dial_timeout
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        return left if timeout is None else min(timeout, left)

    @property
    def endpoints(self) -> Tuple[str, ...]:
        """The endpoints this client uses."""
        return tuple(e.text for e in self._balancer.endpoints)


__all__ = ["MIN_CLUSTER_VERSION", "ClientBase", "too_old"]
