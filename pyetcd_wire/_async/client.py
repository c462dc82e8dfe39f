"""`AsyncClient`: the etcd v3 API for asyncio (work in progress, issue 6).

The KV, Lease and admin methods are generated from the sync facades
(`kv_calls.py`, `admin.py`: scripts/gen_async.py); the options are checked
by the same `Options`; the balancer, the retry decisions (`UnaryRetry`) and
the token bookkeeping are the sync client's.  What is here is only the
asyncio I/O: channels on the event loop, awaiting, sleeping.

Not yet here (they raise NotImplementedError): watch, keep_alive,
keep_alive_once, snapshot, keepalive_time, auto_sync_interval,
reject_old_cluster, metrics.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Optional, Tuple, Type, TypeVar

from google.protobuf.message import Message

from .._api import auth as auth_api
from .._api.methods import AUTH_AUTHENTICATE, Method
from .._policy import retry as retry_policy
from .._policy.balancer import member_endpoints
from .._policy.endpoints import Endpoint, parse_endpoint
from .._proto import rpc_pb2
from .._sync.client_base import ClientBase
from .._sync.options import parse_endpoints
from .._sync.pool import ChannelPool
from ..errors import (
    EtcdError,
    TransportError,
    UnavailableError,
)
from .admin import AsyncAdminCalls
from .auth import AsyncTokenSource
from .channel import AsyncChannel
from .kv_calls import AsyncKVCalls

R = TypeVar("R", bound=Message)


class AsyncClient(ClientBase, AsyncKVCalls, AsyncAdminCalls):
    """A client of one etcd cluster for asyncio; the arguments are
    `ClientBase`'s, as `Client`'s.  Use ``async with``, or ``await aclose()``."""

    def _start(self) -> None:
        options = self._options
        given = {
            "keepalive_time": options.keepalive_time,
            "auto_sync_interval": options.auto_sync_interval,
            "reject_old_cluster": options.reject_old_cluster or None,
            "metrics": options.metrics,
        }
        for name, value in given.items():
            if value is not None:
                raise NotImplementedError(
                    f"{name}= is not supported by AsyncClient yet (Client has it)"
                )
        self._pool: ChannelPool[AsyncChannel] = ChannelPool(
            self._balancer, self._new_channel
        )
        self._auth: Optional[AsyncTokenSource] = None
        if options.credentials is not None:
            self._auth = AsyncTokenSource(
                *options.credentials, self._authenticate, self._md
            )

    def set_endpoints(self, *endpoints: str) -> None:
        """As `Client.set_endpoints`."""
        self._pool.set_endpoints(parse_endpoints(endpoints))

    async def sync(self, *, timeout: Optional[float] = None) -> Tuple[str, ...]:
        """As `Client.sync`."""
        members = (await self.member_list(timeout=timeout)).members
        urls = member_endpoints(members)
        if urls:
            self.set_endpoints(*urls)
        return self.endpoints

    async def aclose(self) -> None:
        """Close every connection; calls in flight fail.  Idempotent."""
        self._pool.close()
        await asyncio.sleep(0)  # let the transports run their close callbacks

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- plumbing ---------------------------------------------------------------

    def _new_channel(self, endpoint: Endpoint) -> AsyncChannel:
        options = self._options
        return AsyncChannel(
            endpoint,
            ssl_context=options.ssl_context,
            server_name=options.server_name,
            dial_timeout=options.dial_timeout,
            max_send_message_size=options.max_send_message_size,
            max_recv_message_size=options.max_recv_message_size,
        )

    async def _call(
        self,
        method: Method,
        request: Message,
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """One unary call, retried as `UnaryRetry` decides (as `Client._call`)."""
        data = request.SerializeToString()
        if timeout is None:
            timeout = self.timeout
        started = time.monotonic() if timeout is not None else 0.0
        if self._auth is not None:
            await self._auth.ensure()
        channel = self._pool.pick()
        try:
            raw = await channel.unary(
                method.path, data, timeout=timeout, metadata=self._md.calls
            )
        except EtcdError as exc:
            raw = await self._retry(method, data, timeout, started, channel, exc)
        else:
            if self._balancer.quarantined_count:
                self._pool.succeeded(channel)
        return response_type.FromString(raw)

    async def _retry(
        self,
        method: Method,
        data: bytes,
        timeout: Optional[float],
        started: float,
        channel: AsyncChannel,
        error: EtcdError,
    ) -> bytes:
        deadline = None if timeout is None else started + timeout
        auth = self._auth
        plan = retry_policy.UnaryRetry(
            method.retry, deadline, auth=auth is not None, rand=random.random
        )
        generation = auth.generation if auth is not None else 0
        while True:
            step = plan.after(
                error,
                time.monotonic(),
                len(self._balancer.endpoints),
                silent=channel.silent_since(started),
            )
            if step.quarantine:
                self._pool.failed(channel.endpoint, str(error))
            if step.give_up:
                raise error
            if step.refresh_token and auth is not None:
                await auth.refresh(generation)
            if step.wait:
                await asyncio.sleep(step.wait)
            channel = self._pool.pick()
            started = time.monotonic()
            if auth is not None:
                generation = auth.generation
            try:
                raw = await channel.unary(
                    method.path, data, timeout=step.timeout, metadata=self._md.calls
                )
            except EtcdError as exc:
                error = exc
                continue
            self._pool.succeeded(channel)
            return raw

    async def _authenticate(self, username: str, password: str) -> str:
        """The Authenticate RPC without a token, on the endpoints in turn."""
        data = auth_api.authenticate_request(username, password).SerializeToString()
        error: Optional[EtcdError] = None
        for _ in self._balancer.endpoints:
            channel = self._pool.pick()
            try:
                raw = await channel.unary(
                    AUTH_AUTHENTICATE.path,
                    data,
                    timeout=self._options.dial_timeout,
                    metadata=self._md.without_token,
                )
            except (TransportError, UnavailableError) as exc:
                self._pool.failed(channel.endpoint, str(exc))
                error = exc
                continue
            return rpc_pb2.AuthenticateResponse.FromString(raw).token
        assert error is not None
        raise error

    async def _call_endpoint(
        self,
        endpoint: str,
        method: Method,
        request: Message,
        response_type: Type[R],
        timeout: Optional[float],
    ) -> R:
        """One call to exactly `endpoint`, not retried elsewhere."""
        channel = self._pool.channel(parse_endpoint(endpoint))
        try:
            raw = await channel.unary(
                method.path,
                request.SerializeToString(),
                timeout=self.timeout if timeout is None else timeout,
                metadata=self._md.calls,
            )
        finally:
            if not self._pool.owns(channel):
                channel.close()
        return response_type.FromString(raw)


__all__ = ["AsyncClient"]
