"""`TLS`: the client's TLS settings as files, checked when they are given.

Go's clientv3 takes a ready `tls.Config`; etcdctl builds one from
``--cacert --cert --key`` (client/pkg/transport/listener.go: TLS >= 1.2).
`TLS` is that etcdctl view: the files are read at once, so a missing,
unreadable or malformed file is a ValueError naming it when the `TLS` (and
so the client) is created, not a handshake failure later.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Optional, Tuple, Union

from .._policy.endpoints import Endpoint
from .dial_errors import describe_ssl_error

if TYPE_CHECKING:
    import ssl

# gRPC runs over HTTP/2, which TLS negotiates by ALPN (RFC 7540 §3.3).
ALPN_PROTOCOLS = ["h2"]

PathLike = Union[str, "os.PathLike[str]"]


class TLS:
    """TLS settings of a client: whom to trust and, for mutual TLS, who we are.

    Args:
        ca_file: PEM file of the CA certificates the server's certificate
            must chain to (etcdctl ``--cacert``); default the system's.
        cert_file: PEM certificate (chain) the client presents (etcdctl
            ``--cert``), for servers run with ``--client-cert-auth``.
        key_file: the PEM private key of `cert_file` (etcdctl ``--key``);
            may be omitted if `cert_file` holds the key too.
        server_name: the name the server's certificate must hold, also sent
            as SNI (etcdctl ``--server-name``); default each endpoint's host.

    Immutable; the files are read when it is created (see `ssl_context`).

    Raises:
        ValueError: a file is missing, unreadable or not what it should be
            (the message names it and says why), an empty path or
            server_name, or `key_file` without `cert_file`.
        TypeError: a file given as something other than a path.
    """

    __slots__ = ("_context", "ca_file", "cert_file", "key_file", "server_name")

    ca_file: Optional[str]
    cert_file: Optional[str]
    key_file: Optional[str]
    server_name: Optional[str]
    _context: ssl.SSLContext

    def __init__(
        self,
        *,
        ca_file: Optional[PathLike] = None,
        cert_file: Optional[PathLike] = None,
        key_file: Optional[PathLike] = None,
        server_name: Optional[str] = None,
    ) -> None:
        files = {
            "ca_file": _path("ca_file", ca_file),
            "cert_file": _path("cert_file", cert_file),
            "key_file": _path("key_file", key_file),
        }
        if files["key_file"] is not None and files["cert_file"] is None:
            raise ValueError("TLS: key_file given without cert_file")
        if server_name is not None and (
            not isinstance(server_name, str) or not server_name
        ):
            raise ValueError(
                f"TLS: server_name must be a non-empty str or None, not {server_name!r}"
            )
        for name, value in (*files.items(), ("server_name", server_name)):
            object.__setattr__(self, name, value)
        context = _build_context(
            files["ca_file"], files["cert_file"], files["key_file"]
        )
        object.__setattr__(self, "_context", context)

    def ssl_context(self) -> ssl.SSLContext:
        """The `ssl.SSLContext` these settings make (built, and its files read,
        when the `TLS` was created): TLS >= 1.2, the server's certificate and
        name verified, ALPN "h2"."""
        return self._context

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"TLS is frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"TLS is frozen: cannot delete {name}")

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("ca_file", "cert_file", "key_file", "server_name")
            if getattr(self, name) is not None
        )
        return f"TLS({fields})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TLS) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> Tuple[Optional[str], ...]:
        return (self.ca_file, self.cert_file, self.key_file, self.server_name)


def channel_settings(
    tls: Union[TLS, ssl.SSLContext, None],
) -> Tuple[Optional[ssl.SSLContext], Optional[str]]:
    """The `Channel` keywords ``(ssl_context, server_name)`` for a client's
    ``tls=`` option.

    Raises:
        TypeError: `tls` is neither None, a `TLS` nor an `ssl.SSLContext`.
    """
    if tls is None:
        return None, None
    if isinstance(tls, TLS):
        return tls.ssl_context(), tls.server_name
    import ssl  # here, not at the top: only TLS loads it

    if isinstance(tls, ssl.SSLContext):
        return tls, None
    raise TypeError(
        f"tls= must be None, pyetcd_wire.TLS(...) or an ssl.SSLContext, not"
        f" {type(tls).__name__}"
    )


def context_for(
    endpoint: Endpoint, ssl_context: Optional[ssl.SSLContext]
) -> Optional[ssl.SSLContext]:
    """The TLS context connections to `endpoint` use (None: plaintext), by
    the endpoint's form (clientv3): ``https``/``unixs`` always (the system's
    CAs without a context), ``http`` never, a bare ``host:port`` when the
    client has a context."""
    if endpoint.tls is False:
        return None
    if endpoint.tls is True and ssl_context is None:
        return default_context()
    return ssl_context


@functools.cache
def default_context() -> ssl.SSLContext:
    """The context for an ``https://`` endpoint of a client given no TLS
    settings (Go: the system roots): built once, shared."""
    return _build_context(None, None, None)


def _path(name: str, value: Optional[PathLike]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"TLS: {name} must be a path, not {type(value).__name__}")
    path = os.fspath(value)
    if not path:
        raise ValueError(f"TLS: {name} is an empty path")
    return path


def _build_context(
    ca_file: Optional[str], cert_file: Optional[str], key_file: Optional[str]
) -> ssl.SSLContext:
    """Raises: ValueError naming the file that could not be used and why."""
    import ssl  # here, not at the top: only TLS loads it

    if ca_file is not None:
        _readable("ca_file", ca_file)
    try:
        # With a ca_file, only those CAs (as Go with RootCAs set); without
        # one, the system's.
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(
            f"TLS: ca_file {ca_file!r} holds no usable CA certificate: {_why(exc)}"
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    if cert_file is not None:
        _readable("cert_file", cert_file)
        if key_file is not None:
            _readable("key_file", key_file)
        _load_cert_chain(context, cert_file, key_file)
    return context


def _load_cert_chain(
    context: ssl.SSLContext, cert_file: str, key_file: Optional[str]
) -> None:
    import ssl  # loaded by _build_context already

    asked = []

    def no_passphrase() -> bytes:  # instead of OpenSSL prompting on the tty
        asked.append(True)
        return b""

    try:
        context.load_cert_chain(cert_file, key_file, password=no_passphrase)
        return
    except ssl.SSLError as exc:
        error = exc
    if asked:
        raise ValueError(
            f"TLS: key_file {key_file or cert_file!r} holds an encrypted private"
            " key; TLS() takes unencrypted keys (or pass an ssl.SSLContext that"
            " has the key loaded)"
        ) from None
    # Which file is at fault: the certificate, if it does not even parse.
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=cert_file)
    except ssl.SSLError:
        raise ValueError(
            f"TLS: cert_file {cert_file!r} holds no PEM certificate: {_why(error)}"
        ) from None
    if key_file is None:
        raise ValueError(
            f"TLS: cert_file {cert_file!r} holds no private key matching its"
            f" certificate, and no key_file was given: {_why(error)}"
        ) from None
    raise ValueError(
        f"TLS: key_file {key_file!r} is not the PEM private key of cert_file"
        f" {cert_file!r}: {_why(error)}"
    ) from None


def _readable(name: str, path: str) -> None:
    """Raises: ValueError if `path` cannot be read as a file."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise ValueError(f"TLS: {name} {path!r}: {exc.strerror or exc}") from None


def _why(exc: Exception) -> str:
    import ssl  # loaded by _build_context already

    if not isinstance(exc, ssl.SSLError):
        return str(exc)
    text = describe_ssl_error(exc)
    # OpenSSL's "PEM lib" says only that PEM decoding failed.
    return "not valid PEM" if text.lower() == "pem lib" else text


__all__ = ["TLS", "channel_settings", "default_context"]
