"""Whether an endpoint speaks TLS, asked on a connection of its own (the
asyncio twin of `_sync.transport.speaks_tls`; `dial_errors` says when)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Optional

from .._client.dial_errors import answered_tls, host_name, probe_context
from .._policy.endpoints import Endpoint


async def speaks_tls(endpoint: Endpoint, timeout: Optional[float]) -> bool:
    """True if `endpoint` completes a TLS handshake or answers it with a TLS
    alert, within `timeout` seconds (None: the system's connect timeout)."""
    probe = asyncio.ensure_future(_handshake(endpoint))
    try:
        # asyncio.wait, not wait_for: a cancellation of ours is never lost.
        await asyncio.wait({probe}, timeout=timeout)
    finally:
        if not probe.done():
            probe.cancel()
            await asyncio.wait({probe})  # its socket closed before we go on
    return not probe.cancelled() and answered_tls(probe.exception())


async def _handshake(endpoint: Endpoint) -> None:
    context, name = probe_context(), host_name(endpoint)
    if endpoint.path:
        opening = asyncio.open_unix_connection(
            endpoint.path, ssl=context, server_hostname=name
        )
    else:
        opening = asyncio.open_connection(
            endpoint.host, endpoint.port, ssl=context, server_hostname=name
        )
    _, writer = await opening
    writer.close()
    with contextlib.suppress(ssl.SSLError, OSError):  # the handshake completed
        await writer.wait_closed()


__all__ = ["speaks_tls"]
