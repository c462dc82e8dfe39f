"""HTTP/2 PING keepalive: find a connection whose server stopped answering.

A member frozen by SIGSTOP, or cut off by a partition that drops packets,
keeps its TCP connection "up": calls without a deadline would wait forever,
and watches would wait for events that never come.  With `keepalive_time`,
a connection that has carried calls and heard nothing from the server for
that long gets a PING; if nothing at all arrives within `keepalive_timeout`
after it, the connection is declared dead, its calls fail (reads are retried
on another endpoint) and its streams resume elsewhere (gRPC's keepalive,
as Go's clientv3 configures it with DialKeepAliveTime/Timeout).

Only while calls or streams are open (grpc-go's PermitWithoutStream=false,
which etcd's server enforces): an idle connection is never pinged.  And
never more often than `MIN_TIME`: etcd answers pings closer together than
its `--grpc-keepalive-min-time` (5 s) with strikes, then GOAWAY
"too_many_pings".  Since a PING is sent only after `keepalive_time` of
silence, two PINGs are always at least that far apart.

Sans-IO: the caller passes `now` and the time of the last read.
"""

from __future__ import annotations

import enum
from typing import Optional

#: etcd's default --grpc-keepalive-min-time: keepalive_time is raised to it.
MIN_TIME = 5.0


class Due(enum.Enum):
    NOTHING = "nothing"
    PING = "ping"  # silent for keepalive_time: send a PING
    DEAD = "dead"  # a PING went unanswered for keepalive_timeout


class PingKeepalive:
    """The keepalive state of one connection."""

    __slots__ = ("ping_sent_at", "pings", "time", "timeout")

    def __init__(self, time: float, timeout: float) -> None:
        if not time > 0 or not timeout > 0:
            raise ValueError(
                "keepalive_time and keepalive_timeout must be positive seconds"
            )
        self.time = max(time, MIN_TIME)
        self.timeout = timeout
        self.ping_sent_at: Optional[float] = None
        self.pings = 0  # sent, ever (diagnostics)

    def heard(self) -> None:
        """The server sent something: it is alive (any frame counts)."""
        self.ping_sent_at = None

    def due(self, now: float, last_read: float) -> Due:
        """What to do now, for a connection with calls or streams open."""
        if self.ping_sent_at is not None:
            if now - self.ping_sent_at >= self.timeout:
                return Due.DEAD
            return Due.NOTHING
        if now - last_read >= self.time:
            return Due.PING
        return Due.NOTHING

    def next_check(self, last_read: float) -> float:
        """When `due` may next answer something other than NOTHING."""
        if self.ping_sent_at is not None:
            return self.ping_sent_at + self.timeout
        return last_read + self.time

    def pinged(self, now: float) -> None:
        self.ping_sent_at = now
        self.pings += 1


__all__ = ["MIN_TIME", "Due", "PingKeepalive"]
