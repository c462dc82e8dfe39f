"""A blocking round trip with no protocol work: the other end of a socket
pair, in a child process, sends back every byte it gets.

`bench_unary.py` runs our in-process core with one such round trip per call
(and the round trip alone, as that row's floor): the same Python code, but
run between blocking reads, as a real call runs it.  The thread sleeps in
recv while another process runs, and comes back to cold caches; the
difference between the two rows is what that costs our code.
"""

from __future__ import annotations

import socket
import subprocess
import sys

# The child: echo until EOF.  Its own CPU is not ours, so it is not counted.
_ECHO = """
import socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
while True:
    data = s.recv(4096)
    if not data:
        break
    s.sendall(data)
"""


class Echo:
    """The parent's end of the pair, and the child that echoes."""

    def __init__(self) -> None:
        self.sock, theirs = socket.socketpair()
        fd = theirs.fileno()
        self._child = subprocess.Popen(
            [sys.executable, "-c", _ECHO, str(fd)], pass_fds=(fd,)
        )
        theirs.close()
        self.round_trip()  # the child is up

    def round_trip(self) -> None:
        """One byte there and back."""
        self.sock.send(b"x")
        if self.sock.recv(1) != b"x":
            raise RuntimeError("the echo process went away")

    def close(self) -> None:
        self.sock.close()
        self._child.wait(timeout=10)
