"""What a failed dial or a lost connection is called, the same in both
drivers: TLS handshake failures (settings that disagree are a `TLSError`,
not retried; a broken connection a retried `ConnectionFailedError`), a
server that closed a plaintext connection before answering (and whether it
expects TLS), a deadline passed while dialing, and short readable reasons
for OSError and ssl errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Type, Union

from .._policy.endpoints import Endpoint
from ..errors import ConnectionFailedError, DeadlineExceededError, EtcdError, TLSError
from .loaded import instance_of_loaded

if TYPE_CHECKING:
    import ssl

    from typing_extensions import TypeGuard

# Hints for the TLS alerts and errors people meet most, by OpenSSL reason.
_HINTS: Dict[str, str] = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        "the server requires a client certificate (TLS cert_file= and key_file=)"
    ),
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server rejected the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": (
        "the server does not trust the client certificate's issuer"
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the server rejected the client certificate",
    "WRONG_VERSION_NUMBER": "is the endpoint serving TLS?",
    "RECORD_LAYER_FAILURE": "is the endpoint serving TLS?",
    "PACKET_LENGTH_TOO_LONG": "is the endpoint serving TLS?",
}


def describe_ssl_error(exc: ssl.SSLError) -> str:
    """A short, readable reason for an ssl error (no OpenSSL source line)."""
    import ssl  # loaded already: `exc` is one of its errors

    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or str(exc)
        return f"certificate verify failed: {detail}"
    text = exc.strerror if isinstance(exc.strerror, str) else str(exc)
    # Compiled at the first TLS error (and cached by `re`), not at import.
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text)
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]  # drop "[SSL: REASON_CODE]"
    hint = _HINTS.get(str(exc.reason))
    return f"{text} ({hint})" if hint else text


class HandshakeEOFError(ConnectionError):
    """The server closed the connection during the TLS handshake."""


def _transient_ssl_errors() -> Tuple[Type[OSError], ...]:
    """The ssl errors that say the connection broke during the handshake
    (EOF, reset), which a later dial may not meet; every other ssl error says
    the two sides' TLS settings disagree.  grpc-go likewise fails a dial at
    once on a handshake error that is not temporary (an x509 verification
    failure, a TLS alert)."""
    import ssl  # here, not at the top: only TLS loads it

    return (ssl.SSLEOFError, ssl.SSLSyscallError, ssl.SSLZeroReturnError)


def _is_ssl_error(exc: Optional[BaseException]) -> TypeGuard[ssl.SSLError]:
    """Whether `exc` is an ssl.SSLError, without importing ssl where no TLS
    is used: until ssl is loaded, no ssl error exists."""
    return instance_of_loaded(exc, "ssl", "SSLError")


def tls_dial_error(
    endpoint: str, exc: OSError
) -> Union[ConnectionFailedError, TLSError]:
    """The error of a failed TLS handshake (both drivers): a TLSError, not
    retried, when the settings disagree (certificate verification, a TLS
    alert, a server that does not speak TLS); else a ConnectionFailedError."""
    failures = [(endpoint, tls_failure(exc))]
    if _is_ssl_error(exc) and not isinstance(exc, _transient_ssl_errors()):
        return TLSError(failures)
    return ConnectionFailedError(failures)


def tls_failure(exc: OSError) -> str:
    """Why a TLS handshake failed (both drivers' wording)."""
    if _is_ssl_error(exc):
        return f"TLS handshake failed: {describe_ssl_error(exc)}"
    if isinstance(exc, (HandshakeEOFError, ConnectionResetError)):
        return (
            "the server closed the connection during the TLS handshake"
            " (does it serve TLS, and accept this client?)"
        )
    return f"TLS handshake failed: {describe(exc)}"


def alpn_refusal(protocol: Optional[str]) -> Optional[str]:
    """Why a TLS connection that did not agree on ALPN "h2" is no use (None
    if it did)."""
    if protocol == "h2":
        return None
    return (
        f"the server did not select ALPN protocol 'h2' (it chose {protocol!r});"
        " gRPC needs HTTP/2: an ssl.SSLContext given to the client must"
        " offer it (context.set_alpn_protocols(['h2']))"
    )


def host_name(endpoint: Endpoint) -> str:
    """The name the server's certificate is checked against (clientv3: the
    host, or a unix socket's base name)."""
    if endpoint.path:
        return endpoint.path.rsplit("/", 1)[-1] or "localhost"
    return endpoint.host


class ClosedBeforeAnswerError(ConnectionFailedError):
    """A plaintext connection the server ended before it answered HTTP/2
    (RFC 9113 §3.4: an HTTP/2 server sends its SETTINGS at once).  Either a
    TLS-only port (etcd with client TLS waits for a ClientHello and closes on
    anything else), or something in between whose far side is gone: a TCP
    proxy or load balancer with its member down, a member dying as it
    accepted.  The bytes cannot tell them apart; a TLS handshake on a
    second connection can (`answered_tls`): the clients ask before they
    retry, and raise `expects_tls` for the first kind."""


#: What the failure says while it is not known whether TLS was expected.
CLOSED_BEFORE_ANSWER = "the server closed the connection before answering HTTP/2"


def closed_before_answer(
    endpoint: str, *, plaintext: bool, answered: bool
) -> Optional[ClosedBeforeAnswerError]:
    """The error of a connection the server ended (EOF, reset, broken pipe),
    for both drivers: a ClosedBeforeAnswerError if it was `plaintext` and
    the server had not `answered` (sent its preface).  None: a connection
    lost as any other."""
    if not plaintext or answered:
        return None
    return ClosedBeforeAnswerError([(endpoint, CLOSED_BEFORE_ANSWER)])


def still_closed(dead: EtcdError) -> Optional[ClosedBeforeAnswerError]:
    """The error of a call that finds its connection dead before it starts
    (both drivers): if the server ended it before answering, that error
    again (for the client to ask whether TLS was expected), not a lost
    connection.  None: the call may start again on a new one."""
    if isinstance(dead, ClosedBeforeAnswerError):
        return ClosedBeforeAnswerError(dead.failures)
    return None


def expects_tls(error: ClosedBeforeAnswerError) -> TLSError:
    """The TLSError of a port that closed a plaintext connection before
    answering and answered a TLS handshake: not retried, the next dial would
    meet the same."""
    return TLSError(
        [
            (
                endpoint,
                f"{CLOSED_BEFORE_ANSWER}: the server expects TLS"
                " (use an https:// endpoint, or tls=)",
            )
            for endpoint, _ in error.failures
        ]
    )


def probe_context() -> ssl.SSLContext:
    """The context of the handshake that asks whether a port speaks TLS: no
    verification (any certificate, any name: only the answer counts)."""
    import ssl  # here, not at the top: only TLS loads it

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


def answered_tls(failure: Optional[BaseException]) -> bool:
    """Whether a probe's TLS handshake, ended by `failure` (None: it
    completed), met a TLS server: one that completed it or sent a TLS alert
    (a client certificate required, a protocol version refused).  An EOF, a
    reset, a refusal, a timeout or a reply that is not TLS: no."""
    if failure is None:
        return True
    reason = getattr(failure, "reason", None)
    return _is_ssl_error(failure) and str(reason).startswith(
        ("SSLV3_ALERT", "TLSV1_ALERT", "TLSV13_ALERT")
    )


def dial_deadline_passed(endpoint: str) -> DeadlineExceededError:
    """The error of a call whose deadline passed before its dial completed
    (both drivers)."""
    return DeadlineExceededError(
        f"deadline exceeded connecting to {endpoint}",
        endpoint=endpoint,
        connecting=True,
    )


def describe(exc: OSError) -> str:
    """A short reason for an OSError (ssl errors included), for error messages."""
    if _is_ssl_error(exc):
        return f"TLS: {describe_ssl_error(exc)}"
    return exc.strerror or str(exc) or type(exc).__name__
