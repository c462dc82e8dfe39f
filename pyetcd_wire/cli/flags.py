"""Global flags, their ETCDCTL_* environment variables, and the client they
describe.

Flags follow etcdctl 3.5 (`etcdctl/ctlv3/ctl.go`): a flag on the command line
wins over its ETCDCTL_<FLAG> variable, which wins over the default.  Global
flags may come before or after the command, as with cobra: each subcommand
parser gets them too, with SUPPRESS defaults so an absent flag never hides
one given earlier.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
from typing import TYPE_CHECKING, Optional, Union

from .errors import CliError, bad_args

if TYPE_CHECKING:
    import ssl

    from .. import TLS, Client

# etcdctl 3.5 defaults (ctl.go): --dial-timeout 2s, --command-timeout 5s.
DEFAULT_ENDPOINTS = "127.0.0.1:2379"
DEFAULT_DIAL_TIMEOUT = "2s"
DEFAULT_COMMAND_TIMEOUT = "5s"
WRITE_OUT_CHOICES = ("simple", "json", "table", "fields")

# flag dest -> (default, help); each also reads ETCDCTL_<DEST.upper()>.
GLOBAL_FLAGS = {
    "endpoints": (DEFAULT_ENDPOINTS, "gRPC endpoints, comma-separated"),
    "dial_timeout": (DEFAULT_DIAL_TIMEOUT, "dial timeout for client connections"),
    "command_timeout": (
        DEFAULT_COMMAND_TIMEOUT,
        "timeout for short running command (excluding dial timeout)",
    ),
    "cacert": ("", "verify certificates of TLS-enabled servers using this CA bundle"),
    "cert": ("", "identify secure client using this TLS certificate file"),
    "key": ("", "identify secure client using this TLS key file"),
    "user": ("", "username[:password] for authentication (prompt if no password)"),
    "password": ("", "password for authentication"),
    "write_out": ("simple", "set the output format (fields, json, simple, table)"),
}
BOOL_FLAGS = {
    "hex": "print byte strings as hex encoded strings",
    "insecure_skip_tls_verify": "skip server certificate verification (testing only)",
}

# Go's time.ParseDuration units.
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    """Add every global flag to `parser`, defaulting to SUPPRESS."""
    group = parser.add_argument_group("global options")
    for dest, (_default, help_text) in GLOBAL_FLAGS.items():
        flag = "--" + dest.replace("_", "-")
        names = ["-w", flag] if dest == "write_out" else [flag]
        group.add_argument(*names, dest=dest, default=argparse.SUPPRESS, help=help_text)
    for dest, help_text in BOOL_FLAGS.items():
        flag = "--" + dest.replace("_", "-")
        group.add_argument(
            flag,
            dest=dest,
            action="store_true",
            default=argparse.SUPPRESS,
            help=help_text,
        )


def setting(args: argparse.Namespace, dest: str) -> str:
    """A global string flag: the command line, else ETCDCTL_<DEST>, else default."""
    value: Optional[str] = getattr(args, dest, None)
    if value is None:
        value = os.environ.get("ETCDCTL_" + dest.upper())
    return GLOBAL_FLAGS[dest][0] if value is None else value


def switch(args: argparse.Namespace, dest: str) -> bool:
    """A global boolean flag, or its ETCDCTL_<DEST> variable ("true"/"1")."""
    if getattr(args, dest, False):
        return True
    return os.environ.get("ETCDCTL_" + dest.upper(), "").lower() in ("1", "true")


def parse_duration(text: str, flag: str) -> float:
    """Go's time.ParseDuration ("2s", "500ms", "1m30s"), in seconds; a bare
    number is taken as seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise bad_args(f'invalid argument "{text}" for "--{flag}" flag')
    return total


def write_out(args: argparse.Namespace) -> str:
    """The -w/--write-out format, checked."""
    fmt = setting(args, "write_out")
    if fmt not in WRITE_OUT_CHOICES:
        raise CliError(1, f"unknown output format {fmt!r}")
    return fmt


def _credentials(args: argparse.Namespace) -> tuple[Optional[str], Optional[str]]:
    user = setting(args, "user")
    password: Optional[str] = setting(args, "password")
    if not user:
        if password:
            raise bad_args("username is empty")
        return None, None
    if password:
        if ":" in user:
            raise bad_args("--user shouldn't contain password when --password is given")
        return user, password
    name, colon, given = user.partition(":")
    if not colon:
        given = getpass.getpass("Password: ")
    return name, given


def _tls(args: argparse.Namespace) -> Union[TLS, ssl.SSLContext, None]:
    cacert, cert, key = (setting(args, name) for name in ("cacert", "cert", "key"))
    if switch(args, "insecure_skip_tls_verify"):
        import ssl  # here, not at the top: only TLS loads it

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])  # gRPC runs over HTTP/2 only
        if cert:
            context.load_cert_chain(cert, key or None)
        return context
    if not (cacert or cert or key):
        return None
    from .. import TLS  # here, not at the top: --help needs no client

    return TLS(ca_file=cacert or None, cert_file=cert or None, key_file=key or None)


def connect(args: argparse.Namespace) -> Client:
    """The client the global flags describe, without a default deadline:
    commands pass `command_timeout(args)` to each short call themselves."""
    endpoints = [ep for ep in setting(args, "endpoints").split(",") if ep]
    username, password = _credentials(args)
    try:
        tls = _tls(args)
    except (OSError, ValueError) as exc:
        raise CliError(1, str(exc)) from exc
    dial = parse_duration(setting(args, "dial_timeout"), "dial-timeout")
    from .. import Client  # here, not at the top: --help needs no client

    return Client(
        endpoints, dial_timeout=dial, tls=tls, username=username, password=password
    )


def command_timeout(args: argparse.Namespace) -> float:
    return parse_duration(setting(args, "command_timeout"), "command-timeout")
