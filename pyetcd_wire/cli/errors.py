"""Exit codes and the error the commands raise to end with one.

The codes are etcdctl's (etcd `pkg/cobrautl/error.go`, 3.5), so scripts that
test `$?` after etcdctl work unchanged with `pyetcd`.
"""

from __future__ import annotations

from ..errors import (
    AuthFailedError,
    ConnectionFailedError,
    DeadlineExceededError,
    EmptyKeyError,
    EtcdError,
    RpcError,
)

# etcd pkg/cobrautl/error.go (3.5): ExitSuccess .. ExitBadArgs.
EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_BAD_CONNECTION = 2
EXIT_INVALID_INPUT = 3
EXIT_BAD_FEATURE = 4
EXIT_INTERRUPTED = 5
EXIT_IO = 6
EXIT_BAD_ARGS = 128
# What `main(argv)` returns after Ctrl-C (SIGINT) where etcdctl dies of it: the
# shell's 128 + 2 for a process killed by it, as the `pyetcd` script is.
EXIT_SIGINT = 130


class CliError(Exception):
    """Ends the command: `main` prints "Error: <message>" on stderr and exits
    with `code`.  Expected (bad input, a failed call), never a bug."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_args(message: str) -> CliError:
    """etcdctl's ExitBadArgs (128): wrong arguments for a command."""
    return CliError(EXIT_BAD_ARGS, message)


def error_message(exc: EtcdError) -> str:
    """What etcdctl prints for a failed call: the server's message for an
    RPC error, "context deadline exceeded" for a deadline."""
    if isinstance(exc, EmptyKeyError):  # raised here before a round trip
        return "etcdserver: key is not provided"
    if isinstance(exc, RpcError):
        return str(exc.details)
    if isinstance(exc, DeadlineExceededError):
        return "context deadline exceeded"
    if isinstance(exc, ConnectionFailedError):
        return f"context deadline exceeded ({exc})"
    return str(exc)


def exit_code(exc: EtcdError) -> int:
    """etcdctl fails a client it cannot authenticate with ExitBadConnection
    (mustClientFromCmd); every other failed call with ExitError."""
    return EXIT_BAD_CONNECTION if isinstance(exc, AuthFailedError) else EXIT_ERROR


def go_parse_error(func: str, text: str) -> str:
    """Go's strconv error for a malformed number, as etcdctl shows it."""
    return f'strconv.{func}: parsing "{text}": invalid syntax'
