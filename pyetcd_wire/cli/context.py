"""What every command gets: the parsed flags, the output, a client made on
first use (so `--help`, argument errors and `version` need no etcd), and the
signal handling (interrupts.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Optional

from .errors import EXIT_BAD_FEATURE, CliError
from .flags import command_timeout, connect, switch, write_out
from .interrupts import Interrupts
from .output import Out

if TYPE_CHECKING:
    from .. import Client


class Context:
    __slots__ = ("_client", "args", "format", "hex", "interrupts", "out")

    def __init__(self, args: argparse.Namespace, interrupts: Interrupts) -> None:
        self.args = args
        self.interrupts = interrupts
        self.format = write_out(args)
        self.hex = switch(args, "hex")
        self.out = Out()
        self._client: Optional[Client] = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = connect(self.args)
        return self._client

    @property
    def timeout(self) -> float:
        """--command-timeout, in seconds: the deadline of each short call."""
        return command_timeout(self.args)

    def refuse_table(self) -> None:
        """etcdctl's printers have no table for KV, txn, watch and lease
        output (printer_table.go): ExitBadFeature."""
        if self.format == "table":
            raise CliError(EXIT_BAD_FEATURE, "table not supported as output format")

    def close(self) -> None:
        self.out.flush()
        if self._client is not None:
            self._client.close()
