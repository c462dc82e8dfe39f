"""No two lock holders interleave: the fenced key's writes, in etcd's order.

Each holder of the campaign's lock writes the fenced key with values
`encode(tenure, seq)`: its tenure (one per acquisition, unique, named
``<worker>.<n>:<key>@<create revision>``) and a sequence number from 1.

The holder, as etcd's guard sees it, is the key and its create revision
(the part after ":"): a session that locks again while its key is still
there holds on under the same key, and its next tenure is the same holder.
When the lock excludes:

* once another holder wrote, a former holder never writes again;
* each tenure's writes are numbered 1, 2, 3, ... in etcd's order;
* a tenure that the same holder's next tenure followed may land one write
  more (its last, sent before it gave up on it: a tenure ends at its
  first write whose outcome is unknown, which etcd may still apply).

Any other write is a violation (check "fencing").
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from .history import Violation, summarize

_SEPARATOR = b"#"


def encode(tenure: str, seq: int) -> bytes:
    """The value a holder in `tenure` writes as its `seq`-th write."""
    if _SEPARATOR.decode() in tenure:
        raise ValueError(f"a tenure id cannot hold {_SEPARATOR!r}: {tenure!r}")
    return tenure.encode() + _SEPARATOR + str(seq).encode()


def decode(value: bytes) -> Tuple[str, int]:
    """(tenure, seq) of a value `encode` made."""
    tenure, separator, seq = value.rpartition(_SEPARATOR)
    if not separator or not seq.isdigit():
        raise ValueError(f"{value!r} is not a fenced write (tenure#seq)")
    return tenure.decode(), int(seq)


def holder(tenure: str) -> str:
    """Who held the lock in `tenure`: its key and create revision (the
    tenure itself, for an id without them)."""
    return tenure.partition(":")[2] or tenure


def check(writes: Sequence[Tuple[str, int]]) -> List[Violation]:
    """`writes`: the fenced key's values in etcd's order, decoded."""
    found: List[str] = []
    finished = set()  # holders another holder followed
    current: Optional[str] = None  # the holder of the last write
    last_tenure: Dict[str, str] = {}  # holder -> its latest tenure
    ended = set()  # tenures their holder's next tenure followed
    late = set()  # ended tenures whose one late write landed
    expected: Dict[str, int] = {}  # tenure -> its next write's number
    for position, (tenure, seq) in enumerate(writes):
        who = holder(tenure)
        if who != current:
            if who in finished:
                found.append(
                    f"write {position}: {tenure} #{seq} after {current} wrote"
                    f" since {who}'s last write"
                )
            if current is not None:
                finished.add(current)
            current = who
        latest = last_tenure.get(who)
        if tenure not in expected:  # a new tenure: the holder's previous ends
            if latest is not None:
                ended.add(latest)
            last_tenure[who] = tenure
        elif tenure in ended:
            if tenure in late:
                found.append(
                    f"write {position}: {tenure} #{seq}, a second write after"
                    f" {last_tenure[who]} began"
                )
            late.add(tenure)
        want = expected.get(tenure, 1)
        if seq != want:
            found.append(f"write {position}: {tenure} #{seq}, expected #{want}")
        expected[tenure] = seq + 1
    return [Violation("fencing", summarize(found))] if found else []
