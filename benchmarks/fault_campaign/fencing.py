"""No two lock holders interleave: the fenced key's writes, in etcd's order.

Each holder of the campaign's lock writes the fenced key with values
`encode(tenure, seq)`: its tenure (one per acquisition, unique) and a
sequence number from 1.  When the lock excludes, each tenure's writes are
one unbroken run, numbered 1, 2, 3, ...: a write of another tenure in the
middle of a run means two holders wrote at once (check "fencing").
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

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


def check(writes: Sequence[Tuple[str, int]]) -> List[Violation]:
    """`writes`: the fenced key's values in etcd's order, decoded."""
    found: List[str] = []
    finished = set()  # tenures whose run another tenure ended
    current, expected = None, 1
    for position, (tenure, seq) in enumerate(writes):
        if tenure != current:
            if tenure in finished:
                found.append(
                    f"write {position}: {tenure} #{seq} after {current} wrote "
                    f"since {tenure}'s last write"
                )
            if current is not None:
                finished.add(current)
            current, expected = tenure, 1
        if seq != expected:
            found.append(f"write {position}: {tenure} #{seq}, expected #{expected}")
        expected = seq + 1
    return [Violation("fencing", summarize(found))] if found else []
