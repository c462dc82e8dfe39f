"""Maintenance requests: Alarm, Status, Defragment, HashKV, MoveLeader and
Snapshot (client/v3/maintenance.go; server side .../v3rpc/maintenance.go).

Each builder checks its arguments and returns the protobuf request Go's
``Maintenance`` methods send.  Two pieces of Go's client logic live here too,
as pure code the driver runs:

* **Disarming alarms.**  etcd's Alarm DEACTIVATE only matches an exact
  (member, alarm type) pair.  Go's ``AlarmDisarm`` with member 0 and alarm
  NONE lists the alarms and disarms each.  Here 0 and "none" are wildcards
  each on its own: member 0 with "nospace" disarms every NOSPACE alarm, a
  member with "none" every alarm of that member (``disarm_requests``).  Go
  would send those two as they are, and etcd would disarm nothing.
* **Checking a snapshot.**  The Snapshot stream carries the backend database
  in chunks (32 KiB from etcd) and then one message whose blob is the 32-byte
  SHA-256 of all the data before it; ``remaining_bytes`` is 0 on both the last
  data chunk and the checksum, so only the end of the stream tells the
  checksum apart.  ``snapshot_blobs`` passes the blobs on, one message
  behind, and yields the last one only once it matches; the blobs joined are
  then the file etcdctl writes (``etcdutl snapshot restore`` checks the
  trailer).  Go's client does not check it; its snapshot package only checks
  ``size % 512 == 32``.

Client-side checks: alarm names are "none", "nospace" or "corrupt"
(case-insensitive; or the AlarmType numbers 0-2); member IDs are ``uint64``
(0 only where it means "every member"); a HashKV revision is a non-negative
``int64``.
"""

from __future__ import annotations

import functools
from typing import Dict, Generator, Iterable, List, Optional, Sequence, Tuple, Union

from google.protobuf.message import DecodeError

from .._proto import rpc_pb2
from ..errors import RemoteProtocolError
from .cluster import check_member_id
from .kv import _parse_enum
from .util import non_negative_int64

# Nothing at module level touches a message of admin.proto: they are built on
# first use (see _proto/rpc_pb2.py).


@functools.cache
def _alarm_types() -> Tuple[Dict[str, rpc_pb2.AlarmType], Dict[int, rpc_pb2.AlarmType]]:
    """AlarmType values by name (admin.proto AlarmType; etcdctl prints them
    upper case) and by number."""
    by_name = {
        "none": rpc_pb2.NONE,
        "nospace": rpc_pb2.NOSPACE,
        "corrupt": rpc_pb2.CORRUPT,
    }
    return by_name, {int(v): v for v in by_name.values()}


#: Size of the checksum that ends a snapshot: a SHA-256 digest
#: (server/etcdserver/api/v3rpc/maintenance.go, ``Snapshot``).
SNAPSHOT_CHECKSUM_SIZE = 32


def alarm_type_enum(alarm: Union[str, int]) -> rpc_pb2.AlarmType:
    """Parses an alarm type: "none", "nospace" or "corrupt".

    Strings are case-insensitive; the AlarmType numbers 0-2 are accepted.

    Raises:
        ValueError: anything else.
    """
    return _parse_enum(alarm, "alarm", *_alarm_types())


def alarm_list_request() -> rpc_pb2.AlarmRequest:
    """Builds the AlarmRequest that lists every alarm of every member
    (Go ``AlarmList``: GET, member 0, alarm NONE)."""
    return rpc_pb2.AlarmRequest(
        action=rpc_pb2.AlarmRequest.GET, memberID=0, alarm=rpc_pb2.NONE
    )


def alarm_disarm_request(
    member_id: int = 0, alarm: Union[str, int] = "nospace"
) -> rpc_pb2.AlarmRequest:
    """Builds an AlarmRequest that deactivates (disarms) alarms.

    A request naming a member and a type is sent as it is.  Otherwise
    (`is_wildcard`) the caller lists the alarms and sends `disarm_requests`.

    Args:
        member_id: the member whose alarm to disarm; 0: every member.
        alarm: "nospace", "corrupt", or "none": every type.

    Raises:
        TypeError: `member_id` is not an int.
        ValueError: `member_id` out of uint64 range, or an unknown alarm.
    """
    ident = check_member_id(member_id, zero_ok=True)
    alarm_type = alarm_type_enum(alarm)
    return rpc_pb2.AlarmRequest(
        action=rpc_pb2.AlarmRequest.DEACTIVATE, memberID=ident, alarm=alarm_type
    )


def is_wildcard(request: rpc_pb2.AlarmRequest) -> bool:
    """True if a disarm request names every member or every type, which etcd
    would match against no alarm: it must be expanded (`disarm_requests`)."""
    return request.memberID == 0 or request.alarm == rpc_pb2.NONE


def disarm_requests(
    request: rpc_pb2.AlarmRequest, listed: rpc_pb2.AlarmResponse
) -> List[rpc_pb2.AlarmRequest]:
    """One exact disarm request for each listed alarm the wildcard matches.

    Args:
        request: from `alarm_disarm_request`.
        listed: the answer to `alarm_list_request`.
    """
    return [
        rpc_pb2.AlarmRequest(
            action=rpc_pb2.AlarmRequest.DEACTIVATE,
            memberID=alarm.memberID,
            alarm=alarm.alarm,
        )
        for alarm in listed.alarms
        if request.memberID in (0, alarm.memberID)
        and request.alarm in (rpc_pb2.NONE, alarm.alarm)
    ]


def join_alarm_responses(
    listed: rpc_pb2.AlarmResponse, responses: Sequence[rpc_pb2.AlarmResponse]
) -> rpc_pb2.AlarmResponse:
    """The answer to an expanded disarm: every disarmed alarm, and the header
    of the last response (Go leaves the header empty)."""
    joined = rpc_pb2.AlarmResponse()
    joined.header.CopyFrom(responses[-1].header if responses else listed.header)
    for response in responses:
        joined.alarms.extend(response.alarms)
    return joined


def status_request() -> rpc_pb2.StatusRequest:
    """Builds a StatusRequest: the answering member's version, database size,
    leader, raft index and term, and errors (Go ``Status``)."""
    return rpc_pb2.StatusRequest()


def defragment_request() -> rpc_pb2.DefragmentRequest:
    """Builds a DefragmentRequest: the answering member rewrites its backend
    database to give freed space back (Go ``Defragment``).  Blocks the member
    while it runs."""
    return rpc_pb2.DefragmentRequest()


def hash_kv_request(revision: int = 0) -> rpc_pb2.HashKVRequest:
    """Builds a HashKVRequest: a hash of the member's key-value history up to
    `revision` (0: the newest), to compare members (Go ``HashKV``, 3.3+).

    Raises:
        TypeError: `revision` is not an int.
        ValueError: `revision` is negative or does not fit int64.
    """
    return rpc_pb2.HashKVRequest(revision=non_negative_int64(revision, "revision"))


def move_leader_request(target_id: int) -> rpc_pb2.MoveLeaderRequest:
    """Builds a MoveLeaderRequest: hand raft leadership to `target_id`.

    Only the leader can do it: another member answers ErrNotLeader; an
    unknown or learner target gives ErrBadLeaderTransferee.

    Raises:
        TypeError, ValueError: see `cluster.check_member_id`.
    """
    return rpc_pb2.MoveLeaderRequest(targetID=check_member_id(target_id, "target_id"))


def snapshot_request() -> rpc_pb2.SnapshotRequest:
    """Builds a SnapshotRequest: stream the member's backend database."""
    return rpc_pb2.SnapshotRequest()


class SnapshotCheck:
    """The checksum rule of a Snapshot stream, for both drivers: each blob
    is handed on once the next one has arrived, so the last one, the
    SHA-256 of everything before it, is held back until the stream has
    ended and it has matched.  Empty blobs are skipped."""

    def __init__(self) -> None:
        import hashlib  # here, not at the top: only snapshots need it

        self._digest = hashlib.sha256()
        self._held: Optional[bytes] = None
        self._size = 0

    def feed(self, raw: bytes) -> Optional[bytes]:
        """One raw SnapshotResponse; the blob to hand on now, if any.

        Raises:
            RemoteProtocolError: the message cannot be decoded.
        """
        blob = _blob(raw)
        if not blob:
            return None
        ready, self._held = self._held, blob
        if ready is not None:
            self._digest.update(ready)
            self._size += len(ready)
        return ready

    def end(self) -> bytes:
        """The stream ended OK: the checksum blob, once it matched.

        Raises:
            RemoteProtocolError: no 32-byte checksum, or it does not match.
        """
        held, size, digest = self._held, self._size, self._digest
        if held is None or len(held) != SNAPSHOT_CHECKSUM_SIZE:
            last = "no data" if held is None else f"a last blob of {len(held)} bytes"
            raise RemoteProtocolError(
                f"snapshot: the stream ended without its SHA-256 checksum ({last}"
                f" after {size} bytes): the snapshot is incomplete"
            )
        if held != digest.digest():
            raise RemoteProtocolError(
                f"snapshot: SHA-256 checksum mismatch over {size} bytes (got"
                f" {held.hex()}, computed {digest.hexdigest()}): the snapshot"
                " is corrupt"
            )
        return held


def snapshot_blobs(messages: Iterable[bytes]) -> Generator[bytes, None, None]:
    """The blobs of a Snapshot stream, the checksum last, checked on the way
    (`SnapshotCheck`).  Closing this iterator closes `messages` (cancelling
    the call).

    Args:
        messages: the raw SnapshotResponse messages of the stream.

    Yields:
        The blobs, as bytes; joined, the snapshot file.

    Raises:
        RemoteProtocolError: a message cannot be decoded, the stream ended
            without a 32-byte checksum, or the checksum does not match.
    """
    check = SnapshotCheck()
    try:
        for raw in messages:
            blob = check.feed(raw)
            if blob is not None:
                yield blob
    finally:
        close = getattr(messages, "close", None)
        if close is not None:
            close()
    yield check.end()


def _blob(raw: bytes) -> bytes:
    try:
        return rpc_pb2.SnapshotResponse.FromString(raw).blob
    except DecodeError as exc:
        raise RemoteProtocolError(f"snapshot: undecodable message: {exc}") from exc
