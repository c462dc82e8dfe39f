"""Cluster requests: MemberList, MemberAdd, MemberRemove, MemberUpdate and
MemberPromote (client/v3/cluster.go).

Each builder checks its arguments and returns the protobuf request Go's
``Cluster`` methods send.  Client-side checks:

* peer URLs are checked before anything is sent, as Go's ``MemberAdd`` and
  ``MemberUpdate`` do ("fail-fast before panic in rafthttp", with
  ``types.NewURLs``): at least one URL; scheme http, https, unix or unixs;
  for http(s) a ``host:port`` authority and no path (not even "/").  Here the
  host must also be non-empty and the port a number in 1-65535, which Go's
  ``url.Parse`` lets through and etcd cannot use.  The URLs are sent as given,
  as Go sends them; a single ``str`` is taken as one URL;
* member IDs are protobuf ``uint64``.  etcd never assigns ID 0, so a request
  naming a member refuses 0 (etcd would answer ErrMemberNotFound); a ``str``
  is refused with a hint, since etcdctl prints IDs in hex;
* ``bool`` is refused where an ``int`` is expected.
"""

from __future__ import annotations

from typing import List, Sequence, Union

from .._proto import rpc_pb2

#: protobuf uint64 upper bound (Member.ID, MemberRemoveRequest.ID, ...).
UINT64_MAX = 2**64 - 1

# types.NewURLs (client/pkg/types/urls.go): the schemes a peer URL may use.
_HOST_PORT_SCHEMES = ("http", "https")
_SOCKET_SCHEMES = ("unix", "unixs")

PeerURLs = Union[str, Sequence[str]]


def check_member_id(
    value: int, what: str = "member_id", *, zero_ok: bool = False
) -> int:
    """Returns `value` if it is a valid etcd member ID (protobuf uint64).

    Args:
        value: the ID, an int (etcdctl prints IDs in hex: ``int(text, 16)``).
        what: the argument's name, for the error message.
        zero_ok: accept 0 (where it means "every member").

    Raises:
        TypeError: `value` is a bool, a str or not an int.
        ValueError: `value` is negative, above 2**64 - 1, or 0 unless
            `zero_ok`.
    """
    if type(value) is not int:
        if isinstance(value, str):
            raise TypeError(
                f"{what} must be an int, not str (etcdctl prints member IDs in"
                f" hex: use int({value!r}, 16))"
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        value = int(value)  # an int subclass such as IntEnum
    if not 0 <= value <= UINT64_MAX:
        raise ValueError(f"{what} must fit in uint64, got {value}")
    if value == 0 and not zero_ok:
        raise ValueError(f"{what} must be > 0: etcd never assigns member ID 0")
    return value


def peer_urls_list(peer_urls: PeerURLs) -> List[str]:
    """Checks peer URLs as Go's ``types.NewURLs`` does; returns them as a list.

    Args:
        peer_urls: one URL, or a sequence of them, e.g.
            ``["http://10.0.0.4:2380"]``.

    Returns:
        The URLs, unchanged.

    Raises:
        TypeError: `peer_urls` or one of its items is not a str.
        ValueError: no URL given, or a URL (named in the message) that etcd
            cannot use.
    """
    if isinstance(peer_urls, str):
        urls = [peer_urls]
    elif isinstance(peer_urls, (bytes, bytearray)) or not isinstance(
        peer_urls, Sequence
    ):
        raise TypeError(
            "peer_urls must be a str or a sequence of str,"
            f" not {type(peer_urls).__name__}"
        )
    else:
        urls = list(peer_urls)
    if not urls:
        raise ValueError("peer_urls: give at least one peer URL")
    for url in urls:
        _check_peer_url(url)
    return urls


def _check_peer_url(url: str) -> None:
    if not isinstance(url, str):
        raise TypeError(f"a peer URL must be a str, not {type(url).__name__}")
    text = url.strip()  # Go: strings.TrimSpace
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in _HOST_PORT_SCHEMES + _SOCKET_SCHEMES:
        raise ValueError(
            f"peer URL {url!r}: the scheme must be http, https, unix or unixs"
        )
    if scheme in _SOCKET_SCHEMES:
        return
    if not rest.startswith("//"):
        raise ValueError(f"peer URL {url!r}: expected {scheme}://host:port")
    # The authority runs to the first "/", "?" or "#"; Go allows a query or
    # fragment but no path.
    end = len(rest)
    for mark in "?#":
        found = rest.find(mark, 2)
        if found != -1:
            end = min(end, found)
    authority, slash, _ = rest[2:end].partition("/")
    if slash:
        raise ValueError(f"peer URL {url!r}: must not contain a path")
    _check_host_port(url, authority.rpartition("@")[2])


def _check_host_port(url: str, host_port: str) -> None:
    """Go's ``net.SplitHostPort``, plus a non-empty host and a numeric port."""
    if host_port.startswith("["):
        host, sep, port = host_port[1:].partition("]:")
    else:
        host, sep, port = host_port.partition(":")
        if ":" in port:
            sep = ""  # Go: "too many colons in address"
    if not sep:
        raise ValueError(
            f'peer URL {url!r}: the address does not have the form "host:port"'
        )
    if not host:
        raise ValueError(f"peer URL {url!r}: the host is empty")
    if not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
        raise ValueError(f"peer URL {url!r}: port {port!r} is not in 1-65535")


def member_list_request(*, linearizable: bool = True) -> rpc_pb2.MemberListRequest:
    """Builds a MemberListRequest: every member of the cluster.

    Args:
        linearizable: go through raft, so the list is the cluster's current
            one (Go's default); False answers from the member's local state
            (Go ``WithSerializable()``, etcd 3.5+; older servers ignore the
            field and always answer locally).
    """
    return rpc_pb2.MemberListRequest(linearizable=bool(linearizable))


def member_add_request(
    peer_urls: PeerURLs, *, learner: bool = False
) -> rpc_pb2.MemberAddRequest:
    """Builds a MemberAddRequest: announce a new member to the cluster.

    The new member must then be started with ``--initial-cluster-state
    existing``.  A voting member that never starts counts against the
    quorum; a learner (etcd 3.4+) does not, receives the log without voting,
    and is promoted with MemberPromote once in sync (Go ``MemberAdd`` /
    ``MemberAddAsLearner``).

    Args:
        peer_urls: the new member's peer URL(s).
        learner: add it as a non-voting learner.

    Raises:
        TypeError, ValueError: see `peer_urls_list`.
    """
    urls = peer_urls_list(peer_urls)
    return rpc_pb2.MemberAddRequest(peerURLs=urls, isLearner=bool(learner))


def member_remove_request(member_id: int) -> rpc_pb2.MemberRemoveRequest:
    """Builds a MemberRemoveRequest: take a member out of the cluster.

    etcd answers ErrMemberNotFound for an unknown ID, and refuses a removal
    that would leave too few started voting members for a quorum
    (ErrMemberNotEnoughStarted, with ``--strict-reconfig-check``).

    Raises:
        TypeError, ValueError: see `check_member_id`.
    """
    return rpc_pb2.MemberRemoveRequest(ID=check_member_id(member_id))


def member_update_request(
    member_id: int, peer_urls: PeerURLs
) -> rpc_pb2.MemberUpdateRequest:
    """Builds a MemberUpdateRequest: replace a member's peer URLs.

    Raises:
        TypeError, ValueError: see `check_member_id` and `peer_urls_list`.
    """
    ident = check_member_id(member_id)
    urls = peer_urls_list(peer_urls)
    return rpc_pb2.MemberUpdateRequest(ID=ident, peerURLs=urls)


def member_promote_request(member_id: int) -> rpc_pb2.MemberPromoteRequest:
    """Builds a MemberPromoteRequest: make a learner a voting member (3.4+).

    etcd answers ErrMemberNotLearner for a voting member and
    ErrMemberLearnerNotReady while the learner's log still lags the leader's.

    Raises:
        TypeError, ValueError: see `check_member_id`.
    """
    return rpc_pb2.MemberPromoteRequest(ID=check_member_id(member_id))
