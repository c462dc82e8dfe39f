"""The floor of start-up: what a Python process pays for an etcd call before
any client code of ours runs.  Run by bench_startup.py as a child:

    python _startup_floor.py import PACKAGE_DIR
    python _startup_floor.py get PACKAGE_DIR HOST:PORT BYTES_FILE

`import`: protobuf's runtime and our message classes (the `_proto` package
of PACKAGE_DIR, loaded on its own: it imports nothing else of ours), and
`socket`.  Any client built on protobuf needs these; our import is this plus
our own modules.

`get`: that, then one serializable Range over a plain socket: the bytes in
BYTES_FILE (HTTP/2 preface, SETTINGS and the call's HEADERS and DATA, encoded
by the parent with our core) are sent as they are, the response's frames are
scanned until the trailers of stream 1, and its message is parsed and
printed as `pyetcd get` prints it (key, then value).  No HPACK, no status,
no deadline: `pyetcd get k` less everything but Python, protobuf and one
round trip.
"""

from __future__ import annotations

import sys

HEADER_SIZE = 9
DATA, HEADERS = 0, 1
END_STREAM = 0x1
PREFIX = 5  # the gRPC message prefix: compressed flag, 4-byte length


def response_message(sock: object) -> bytes:
    """The DATA of stream 1 (one gRPC message), read until its trailers."""
    recv = sock.recv  # type: ignore[attr-defined]
    buffer = b""
    data = b""
    while True:
        while len(buffer) >= HEADER_SIZE:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < HEADER_SIZE + length:
                break
            kind, flags = buffer[3], buffer[4]
            stream = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            payload = buffer[HEADER_SIZE : HEADER_SIZE + length]
            buffer = buffer[HEADER_SIZE + length :]
            if stream == 1 and kind == DATA:
                data += payload
            if stream == 1 and kind in (DATA, HEADERS) and flags & END_STREAM:
                return data[PREFIX:]
        chunk = recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection before the answer")
        buffer += chunk


def main() -> None:
    mode, package_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, package_dir)
    import socket

    from _proto import rpc_pb2  # type: ignore[import-not-found]

    if mode != "get":
        return
    host, port = sys.argv[3].rsplit(":", 1)
    with open(sys.argv[4], "rb") as file:
        request = file.read()
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        response = rpc_pb2.RangeResponse.FromString(response_message(sock))
    kv = response.kvs[0]
    sys.stdout.write(f"{kv.key.decode()}\n{kv.value.decode()}\n")


if __name__ == "__main__":
    main()
