"""Shared pieces of etcdctl's printers (printer.go, printer_simple.go,
printer_fields.go, printer_table.go in etcdctl 3.5): a key-value pair, Go's
%q quoting, the table, and the "fields" lines."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, List, Sequence, Union

from .output import Out, Text

if TYPE_CHECKING:
    from .._proto import kv_pb2
    from .._proto import rpc_pb2 as pb

Cell = Union[str, int, bool]

# Go's strconv.Quote escapes for these; others below 0x20 become \xHH.
_GO_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def hex_bytes(data: bytes) -> str:
    """etcdctl --hex: every byte as \\xHH (printer.go addHexPrefix)."""
    return "".join(f"\\x{b:02x}" for b in data)


def print_kv(out: Out, kv: kv_pb2.KeyValue, *, hex: bool, value_only: bool) -> None:
    """printer_simple.go printKV: the key line (unless value_only), then the value."""
    key: Text = hex_bytes(kv.key) if hex else kv.key
    value: Text = hex_bytes(kv.value) if hex else kv.value
    if not value_only:
        out.line(key)
    out.line(value)


def go_quote(data: Union[bytes, str]) -> str:
    """Go's strconv.Quote (%q) of a string of bytes."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    text = raw.decode("utf-8", "surrogateescape")
    parts = ['"']
    for char in text:
        code = ord(char)
        if char in _GO_QUOTE_ESCAPES:
            parts.append(_GO_QUOTE_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # an invalid UTF-8 byte
            parts.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            parts.append(f"\\x{code:02x}")
        elif not char.isprintable() and code > 0x7F:
            parts.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def go_bool(value: bool) -> str:
    return "true" if value else "false"


def cell(value: Cell) -> str:
    return go_bool(value) if isinstance(value, bool) else str(value)


def table(out: Out, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """olekukonko/tablewriter as etcdctl sets it up: upper-case centred
    headers, cells aligned right, +---+ borders."""
    texts = [[cell(c) for c in row] for row in rows]
    titles = [h.upper() for h in header]
    widths = [max([len(t)] + [len(r[i]) for r in texts]) for i, t in enumerate(titles)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out.line(rule)
    out.line("|" + "|".join(_centred(t, w) for t, w in zip(titles, widths)) + "|")
    out.line(rule)
    for row in texts:
        out.line("|" + "|".join(f" {c:>{w}} " for c, w in zip(row, widths)) + "|")
    out.line(rule)


def _centred(text: str, width: int) -> str:
    pad = width - len(text)
    return " " * (pad // 2 + 1) + text + " " * (pad - pad // 2 + 1)


def simple_rows(out: Out, rows: Sequence[Sequence[Cell]]) -> None:
    """printer_simple.go for tables: each row joined with ", "."""
    for row in rows:
        out.line(", ".join(cell(c) for c in row))


def field(out: Out, name: str, value: Union[Cell, bytes]) -> None:
    """One `"Name" : value` line of printer_fields.go."""
    shown = go_quote(value) if isinstance(value, (bytes, str)) else cell(value)
    out.line(f'"{name}" : {shown}')


def header_fields(out: Out, header: pb.ResponseHeader) -> None:
    field(out, "ClusterID", header.cluster_id)
    field(out, "MemberID", header.member_id)
    field(out, "Revision", header.revision)
    field(out, "RaftTerm", header.raft_term)


def kv_fields(out: Out, kv: kv_pb2.KeyValue, prefix: str = "") -> None:
    field(out, prefix + "Key", kv.key)
    field(out, prefix + "CreateRevision", kv.create_revision)
    field(out, prefix + "ModRevision", kv.mod_revision)
    field(out, prefix + "Version", kv.version)
    field(out, prefix + "Value", kv.value)
    field(out, prefix + "Lease", kv.lease)


def member_rows(members: Sequence[pb.Member]) -> List[List[Cell]]:
    """printer.go makeMemberListTable."""
    return [
        [
            f"{m.ID:x}",
            "started" if m.name else "unstarted",
            m.name,
            ",".join(m.peerURLs),
            ",".join(m.clientURLs),
            m.isLearner,
        ]
        for m in members
    ]


MEMBER_HEADER = ("ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner")


def humanize_bytes(size: int) -> str:
    """go-humanize Bytes: SI units, e.g. "20 kB", "1.2 MB"."""
    if size < 10:
        return f"{size} B"
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    value = float(size)
    exp = 0
    while value >= 1000 and exp < len(units) - 1:
        value /= 1000
        exp += 1
    value = math.floor(value * 10 + 0.5) / 10
    return f"{value:.0f} {units[exp]}" if value >= 10 else f"{value:.1f} {units[exp]}"
