"""Record real etcd sessions for the receive-path fuzzing (tests/fuzz/).

    PYETCD_WIRE_TEST_PORTS=23000-24999 python scripts/record_transcripts.py

Starts etcd with the test kit, runs one session with the sync client, and
writes one transcript per client connection to tests/fuzz/transcripts/.  The
session: puts, gets (one of a missing key), a delete, a put refused (its
lease does not exist), a get at a compacted revision, a watch that sees
many events, a fragmented watch (its own connection), a lease kept
alive, a snapshot, a GOAWAY (ENHANCE_YOUR_CALM "too_many_pings", which
etcd sends a client that pings too often) with a watch open, and a watch
open while the server stops.

The recording is the core's own view: every GrpcConnection the driver makes
is a subclass that keeps the bytes `receive_data` was given, in the pieces
they came in, and the client's actions (calls started, messages sent,
half-closes, cancels, messages consumed) at the offset of the server bytes
they followed.  tests/fuzz/mutate.py reads the files back.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pathlib
import sys
import time
from typing import Any, Dict, List, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyetcd_wire  # noqa: E402
from pyetcd_wire._core.grpc.call import Call  # noqa: E402
from pyetcd_wire._core.grpc.connection import GrpcConnection  # noqa: E402
from pyetcd_wire._core.grpc.events import MessageReceived  # noqa: E402
from pyetcd_wire._policy import ping  # noqa: E402
from pyetcd_wire._sync import channel  # noqa: E402
from pyetcd_wire.errors import EtcdError  # noqa: E402
from pyetcd_wire.testing.etcd import EtcdMember  # noqa: E402

OUT = ROOT / "tests" / "fuzz" / "transcripts"
# etcd fragments a watch response (fragment=True) over this plus 512 KiB.
MAX_REQUEST_BYTES = 4096
# Transcripts larger than this are written gzipped (.json.gz).
GZIP_OVER = 256 * 1024

MIN_PING_TIME = ping.MIN_TIME

RECORDING = [True]
RECORDED: List[RecordingConnection] = []


class RecordingConnection(GrpcConnection):
    """A GrpcConnection that keeps what it was given (see the docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = {
            "stream_window": self.h2._stream_window,
            "connection_window": self.h2._connection_window,
            "max_header_list_size": self.h2._max_header_list_size,
            "max_recv_message_size": self.max_recv_message_size,
            "first_stream_id": kwargs.get("first_stream_id", 1),
        }
        self.pieces: List[bytes] = []
        self.received = 0
        self.actions: List[Tuple[int, List[object]]] = []
        self.call_index: Dict[int, int] = {}
        self.calls: List[Call] = []  # alive, so that no id() is used twice
        self.paths: List[str] = []
        self.messages = 0  # delivered, and their SHA-256 in order
        self.digest = hashlib.sha256()
        if RECORDING[0]:
            RECORDED.append(self)

    def _act(self, *action: object) -> None:
        self.actions.append((self.received, list(action)))

    def _index(self, call: Call) -> int:
        return self.call_index.get(id(call), -1)

    def _started(self, call: Call, kind: str) -> Call:
        self.call_index[id(call)] = len(self.call_index)
        self.calls.append(call)
        self.paths.append(call.path)
        self._act("start", kind, 0)
        return call

    def receive_data(self, data: Any) -> Any:
        piece = bytes(data)
        self.pieces.append(piece)
        self.received += len(piece)
        events = super().receive_data(piece)
        for event in events:
            if type(event) is MessageReceived:
                self.messages += 1
                self.digest.update(event.message)
        return events

    def unary(self, path: str, request: bytes, **kwargs: Any) -> Call:
        call = super().unary(path, request, **kwargs)
        kind = "server_streaming" if kwargs.get("server_streaming") else "unary"
        return self._started(call, kind)

    def start_call(self, path: str, **kwargs: Any) -> Call:
        return self._started(super().start_call(path, **kwargs), "stream")

    def send_message(self, call: Call, message: bytes, *, end: bool = False) -> None:
        super().send_message(call, message, end=end)
        self._act("send", self._index(call), int(end))

    def end_call(self, call: Call) -> None:
        super().end_call(call)
        self._act("end", self._index(call))

    def cancel_call(self, call: Call, error_code: int = 8) -> None:
        super().cancel_call(call, error_code)
        self._act("cancel", self._index(call))

    def message_consumed(self, call: Call) -> None:
        super().message_consumed(call)
        self._act("consume", self._index(call))

    def ping(self, data: bytes) -> None:
        super().ping(data)
        self._act("ping")


def session(member: EtcdMember) -> None:
    client = pyetcd_wire.Client(member.endpoint, timeout=10)
    try:
        for i in range(20):
            client.put(f"k/{i:02d}", f"v{i}" * 10)
        client.get("k/05")
        client.get("k/", prefix=True)
        client.get("missing")
        client.delete("k/19")
        lease = client.grant(30)
        client.put("leased", "x", lease=lease.ID)
        try:
            client.put("bad", "x", lease=123456789)
        except EtcdError as exc:  # etcdserver: requested lease not found
            print("refused as expected:", type(exc).__name__)
        revision = client.get("k/00").header.revision
        client.compact(revision - 5)
        try:
            client.get("k/00", revision=revision - 10)
        except EtcdError as exc:  # mvcc: required revision has been compacted
            print("refused as expected:", type(exc).__name__)
        with client.watch("w/", prefix=True) as watch:
            for i in range(60):
                client.put(f"w/{i}", "e" * 50)
            seen = 0
            for response in watch:
                seen += len(response.events)
                if seen >= 60:
                    break
        with client.keep_alive(client.grant(2).ID):
            time.sleep(2.5)  # a few keep-alive rounds
        client.keep_alive_once(lease.ID)
        size = sum(len(chunk) for chunk in client.snapshot())
        print("snapshot of", size, "octets")
        fragmented_watch(member)
        goaway(member)
        watch = client.watch("g/", prefix=True)
        client.put("g/1", "before the stop")
        next(iter(watch))
        member.stop()  # SIGTERM: etcd 3.5 closes the connection, no GOAWAY
        time.sleep(0.5)
        watch.cancel()
    finally:
        client.close()


def fragmented_watch(member: EtcdMember) -> None:
    """A watch from an old revision whose catch-up response etcd splits into
    fragments: it fragments responses over --max-request-bytes plus 512 KiB
    of gRPC overhead, so the history holds 600 KiB of (compressible) values,
    written by a client that is not recorded."""
    RECORDING[0] = False
    with pyetcd_wire.Client(member.endpoint, timeout=10) as writer:
        first = writer.put("big/000", "y" * 1024).header.revision
        for i in range(1, 600):
            writer.put(f"big/{i:03d}", "y" * 1024)
    RECORDING[0] = True
    with pyetcd_wire.Client(member.endpoint, timeout=10) as client:
        watch = client.watch("big/", prefix=True, start_revision=first, fragment=True)
        with watch:
            seen = 0
            for response in watch:
                seen += len(response.events)
                if seen >= 600:
                    break


def goaway(member: EtcdMember) -> None:
    """A GOAWAY from etcd: a client that pings more often than the server's
    --grpc-keepalive-min-time gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
    on its third PING (grpc-go's enforcement), here with a watch open."""
    ping.MIN_TIME = 0.2  # the client's own floor (5 s) would avoid it
    client = pyetcd_wire.Client(member.endpoint, timeout=10, keepalive_time=0.2)
    try:
        with client.watch("p/", prefix=True) as watch:
            client.put("p/1", "x")
            next(iter(watch))
            time.sleep(1.5)
    finally:
        client.close()
        ping.MIN_TIME = MIN_PING_TIME


def write(conn: RecordingConnection, index: int) -> pathlib.Path:
    services = sorted({path.split("/")[1].split(".")[-1] for path in conn.paths})
    name = f"{index:02d}-" + "-".join(services)
    frames = []
    data = b"".join(conn.pieces)
    pos = 0
    while pos < len(data):
        end = pos + 9 + int.from_bytes(data[pos : pos + 3], "big")
        frames.append(data[pos:end].hex())
        pos = end
    splits, total = [], 0
    for piece in conn.pieces[:-1]:
        total += len(piece)
        splits.append(total)
    path = OUT / f"{name}.json"
    record = {
        "paths": conn.paths,
        "messages": conn.messages,
        "messages_sha256": conn.digest.hexdigest(),
        "config": conn.config,
        "actions": conn.actions,
        "splits": splits,
        "data": frames,  # one frame a line
    }
    text = json.dumps(record, indent=0) + "\n"
    if len(text) > GZIP_OVER:
        path = path.with_suffix(".json.gz")
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)
    return path


def main() -> None:
    channel.GrpcConnection = RecordingConnection  # type: ignore[misc]
    extra = (
        "--max-request-bytes",
        str(MAX_REQUEST_BYTES),
        "--grpc-keepalive-min-time",
        "30s",
    )
    with EtcdMember(extra_args=extra) as member:
        session(member)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json*"):
        old.unlink()
    for index, conn in enumerate(c for c in RECORDED if c.paths):
        path = write(conn, index)
        print(
            f"{path.relative_to(ROOT)}: {conn.received} octets,",
            len(conn.paths),
            "calls",
        )


if __name__ == "__main__":
    main()
