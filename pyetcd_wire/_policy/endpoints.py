"""Endpoint strings (clientv3 internal/endpoint/endpoint.go forms) parsed into values.

Accepted: `host:port`, `http://host:port`, `https://host:port`,
`unix:///abs/path`, `unix://rel/path`, `unix:path`, `unixs://...`.  IPv6
literals go in brackets (`[::1]:2379`).
"""

from __future__ import annotations

from typing import Optional


class Endpoint:
    """Where to connect: a TCP address or a unix socket path, with or without TLS."""

    __slots__ = ("host", "path", "port", "text", "tls")

    def __init__(
        self,
        text: str,
        *,
        host: str = "",
        port: int = 0,
        path: str = "",
        tls: Optional[bool] = None,
    ) -> None:
        self.text = text
        self.host = host
        self.port = port
        self.path = path
        # None: TLS used iff the client has a TLS config (bare host:port).
        self.tls = tls

    @property
    def authority(self) -> str:
        """The :authority of requests (a socket's base name for unix endpoints)."""
        if self.path:
            return self.path.rsplit("/", 1)[-1] or "localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Endpoint({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoint) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)


def parse_endpoint(text: str) -> Endpoint:
    """Parse one endpoint string.

    Raises:
        ValueError: saying what is wrong with `text`.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"endpoint must be a non-empty string, not {text!r}")
    for scheme, secure in (("unixs:", True), ("unix:", None)):
        if text.startswith(scheme):
            path = text[len(scheme) :]
            path = path[2:] if path.startswith("//") else path
            if not path:
                raise ValueError(f"endpoint {text!r}: unix socket path is empty")
            return Endpoint(text, path=path, tls=secure)
    tls: Optional[bool] = None
    rest = text
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme not in ("http", "https"):
            raise ValueError(
                f"endpoint {text!r}: scheme {scheme!r} is not one of http, https,"
                " unix, unixs"
            )
        tls = scheme == "https"
    rest = rest.rstrip("/")
    if rest.startswith("["):
        host, sep, port_text = rest[1:].partition("]:")
    else:
        host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        raise ValueError(f"endpoint {text!r}: expected host:port")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"endpoint {text!r}: port {port_text!r} is not a number"
        ) from None
    if not 0 < port < 65536:
        raise ValueError(f"endpoint {text!r}: port {port} is out of range")
    return Endpoint(text, host=host, port=port, tls=tls)
