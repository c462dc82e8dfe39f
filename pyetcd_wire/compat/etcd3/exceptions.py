"""python-etcd3's exceptions, and the one rule that turns ours into them.

python-etcd3 mapped four gRPC status codes to its own classes (INTERNAL,
UNAVAILABLE, DEADLINE_EXCEEDED, FAILED_PRECONDITION) and let every other
``grpc.RpcError`` through as it was.  `translated` keeps that contract over
pyetcd_wire's errors, with two differences:

* A compat error is also the pyetcd_wire error it came from: the
  `ConnectionTimeoutError` of a deadline is also a `DeadlineExceededError`,
  so code can move to our classes one ``except`` at a time.
* What python-etcd3 let through raw stays our typed error (a `CompactedError`
  for a compacted revision, ...).  When ``grpc`` is already imported in the
  process (we look in ``sys.modules``, never import it), that error is also
  a ``grpc.RpcError`` whose ``code()`` and ``details()`` answer as grpc's
  would, so migrated ``except grpc.RpcError`` blocks keep working.

The classes made for these combinations are built once per pair and cached.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterator,
    Optional,
    Tuple,
    TypeVar,
    cast,
)

from ... import errors as ours

F = TypeVar("F", bound=Callable[..., Any])


class Etcd3Exception(Exception):  # noqa: N818 (python-etcd3's name)
    """Base of python-etcd3's exceptions."""

    #: python-etcd3's fixed message for the class, if it had one.
    text: ClassVar[Optional[str]] = None

    def __str__(self) -> str:
        if self.text is None:
            return super().__str__()
        detail = super().__str__()
        return f"{self.text} ({detail})" if detail else self.text


class WatchTimedOut(Etcd3Exception):
    """A watch was not created, or had no event, within its timeout."""


class InternalServerError(Etcd3Exception):
    """INTERNAL from the server (and HTTP/2 or gRPC broken on the wire);
    also our `InternalError` or `ProtocolError`."""


class ConnectionFailedError(Etcd3Exception):
    """No connection, or UNAVAILABLE; also our `TransportError` or
    `UnavailableError`."""

    text = "etcd connection failed"


class ConnectionTimeoutError(Etcd3Exception):
    """The call's deadline passed; also our `DeadlineExceededError`."""

    text = "etcd connection timeout"


class PreconditionFailedError(Etcd3Exception):
    """FAILED_PRECONDITION; also our `FailedPreconditionError`."""


class RevisionCompactedError(Etcd3Exception):
    """A watch's start revision was compacted; also our `CompactedError`.

    Attributes:
        compacted_revision: the oldest revision still kept.
    """

    def __init__(self, compacted_revision: int) -> None:
        self.compacted_revision = compacted_revision
        super().__init__()


class NoServerAvailableError(Etcd3Exception):
    """No endpoint to send to (python-etcd3's master, with failover); also
    our `NoEndpointAvailableError`."""


#: Our class -> python-etcd3's, the first match in this order.  The status
#: codes are python-etcd3's client.py `_EXCEPTIONS_BY_CODE`; our transport
#: and protocol errors are what grpc reports as UNAVAILABLE and INTERNAL.
TRANSLATIONS: Tuple[Tuple[type, type], ...] = (
    (ours.NoEndpointAvailableError, NoServerAvailableError),
    (ours.DeadlineExceededError, ConnectionTimeoutError),
    (ours.UnavailableError, ConnectionFailedError),
    (ours.TransportError, ConnectionFailedError),
    (ours.InternalError, InternalServerError),
    (ours.ProtocolError, InternalServerError),
    (ours.FailedPreconditionError, PreconditionFailedError),
)

_classes: Dict[Tuple[type, type], type] = {}
_classes_lock = threading.Lock()


def translated(error: BaseException) -> BaseException:
    """The exception python-etcd3 would have raised (or passed to a watch
    callback) for `error`: one of python-etcd3's classes that is also
    `error`'s class, or `error` itself (then also a ``grpc.RpcError`` if
    grpc is loaded and `error` came with a gRPC status).  Anything that is
    not a pyetcd_wire error, or is translated already, comes back as it is.
    """
    if not isinstance(error, ours.EtcdError) or isinstance(error, Etcd3Exception):
        return error
    if isinstance(error, ours.CompactedError) and error.compact_revision:
        revision = {"compacted_revision": error.compact_revision}
        return _twin(error, RevisionCompactedError, revision)
    for our_class, theirs in TRANSLATIONS:
        if isinstance(error, our_class):
            return _twin(error, theirs)
    grpc = sys.modules.get("grpc")
    rpc_error = getattr(grpc, "RpcError", None)
    if isinstance(error, ours.RpcError) and isinstance(rpc_error, type):
        return _grpc_twin(error, grpc, rpc_error)
    return error


@contextlib.contextmanager
def translating() -> Iterator[None]:
    """Raise `translated` errors for ours raised in the block."""
    try:
        yield
    except ours.EtcdError as exc:
        raise translated(exc) from None


def translate_errors(method: F) -> F:
    """`method`, raising `translated` errors for ours (python-etcd3's
    ``_handle_errors``)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ours.EtcdError as exc:
            raise translated(exc) from None

    return wrapper  # type: ignore[return-value]


def _twin(
    error: BaseException, first: type, attrs: Optional[Dict[str, Any]] = None
) -> BaseException:
    """A copy of `error` (with `attrs` set) whose class derives from `first`,
    then from `error`'s class; named as python-etcd3's class, or as ours
    for a grpc twin."""
    key = (first, type(error))
    with _classes_lock:
        cls = _classes.get(key)
        if cls is None:
            named = first if issubclass(first, Etcd3Exception) else type(error)
            namespace = {
                "__module__": named.__module__,
                "__qualname__": named.__qualname__,
            }
            cls = type(named.__name__, (first, type(error)), namespace)
            _classes[key] = cls
    twin: BaseException = cast(Any, cls).__new__(cls)
    twin.args = error.args
    twin.__dict__.update(vars(error))
    twin.__dict__.update(attrs or {})
    twin.__traceback__ = error.__traceback__
    twin.__cause__ = error.__cause__
    twin.__context__ = error.__context__
    return twin


def _grpc_twin(error: ours.RpcError, grpc: Any, rpc_error: type) -> BaseException:
    """`error` as a ``grpc.RpcError`` too: ``code()`` is grpc's StatusCode of
    the same name, ``details()`` the status message; ``.code`` still equals
    our StatusCode and ``.details`` is still the message."""
    theirs = getattr(getattr(grpc, "StatusCode", None), error.code.name, None)
    attrs = {"code": _Code(error.code, theirs), "details": _Details(error.details)}
    return _twin(error, rpc_error, attrs)


class _Code(int):
    """Our StatusCode (an int equal to it, with its name) that, called,
    gives grpc's: ``error.code == StatusCode.OUT_OF_RANGE`` and
    ``error.code() == grpc.StatusCode.OUT_OF_RANGE`` both hold."""

    name: str
    _grpc: Any

    def __new__(cls, code: ours.StatusCode, grpc_code: Any) -> _Code:
        self = super().__new__(cls, int(code))
        self.name = code.name
        self._grpc = grpc_code
        return self

    def __call__(self) -> Any:
        return self._grpc

    def __repr__(self) -> str:
        return f"<StatusCode.{self.name}: {int(self)}>"


class _Details(str):
    """The status message, that, called, gives itself (grpc's
    ``details()``)."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


__all__ = [
    "ConnectionFailedError",
    "ConnectionTimeoutError",
    "Etcd3Exception",
    "InternalServerError",
    "NoServerAvailableError",
    "PreconditionFailedError",
    "RevisionCompactedError",
    "WatchTimedOut",
    "translated",
]
