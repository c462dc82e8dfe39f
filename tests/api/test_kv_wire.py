"""`range_data` and `put_data` encode what `range_message` and `put_message`
serialize, byte for byte, on whichever protobuf runtime runs the tests (upb
on CPython, the pure-Python one on PyPy and in the pure_protobuf session):
the KV calls send these bytes without building the message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyetcd_wire._api import kv

keys = st.binary(min_size=1, max_size=300)
int64s = st.one_of(st.just(0), st.integers(0, 300), st.integers(0, 2**63 - 1))
flags = st.booleans()


@st.composite
def range_arguments(draw: st.DrawFn) -> tuple:
    key = draw(keys)
    shape = draw(st.sampled_from(["key", "range_end", "prefix", "from_key"]))
    return (
        key,
        draw(keys) if shape == "range_end" else None,
        shape == "prefix",
        shape == "from_key",
        draw(int64s),  # revision
        draw(int64s),  # limit
        draw(st.sampled_from(sorted(kv.SORT_TARGETS))),
        draw(st.sampled_from(sorted(kv.SORT_ORDERS))),
        draw(flags),  # serializable
        draw(flags),  # keys_only
        draw(flags),  # count_only
        *(draw(int64s) for _ in range(4)),  # the revision filters
    )


@given(range_arguments())
def test_range_data_is_the_range_requests_bytes(arguments):
    fields = kv.range_fields(*arguments)
    assert kv.range_data(fields) == kv.range_message(fields).SerializeToString()


@given(keys, st.binary(max_size=300), int64s, flags, flags)
def test_put_data_is_the_put_requests_bytes(key, value, lease, prev_kv, ignore):
    # ignore_value needs an empty value, ignore_lease no lease.
    for arguments in (
        (key, value, lease, prev_kv, False, False),
        (key, b"", lease, prev_kv, ignore, False),
        (key, value, 0, prev_kv, False, ignore),
    ):
        fields = kv.put_fields(*arguments)
        assert kv.put_data(fields) == kv.put_message(fields).SerializeToString()


def test_the_common_get_is_pinned():
    fields = kv.range_fields(
        "k", None, False, False, 0, 0, "key", "none", True, False, False, 0, 0, 0, 0
    )
    assert kv.range_data(fields) == b"\x0a\x01k\x38\x01"
