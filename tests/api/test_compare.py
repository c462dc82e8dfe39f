"""Compare values: targets, operators, range compares, misuse."""

from __future__ import annotations

import copy
import operator
from typing import Any, Callable

import pytest

from pyetcd_wire._api.compare import Compare, KeyField
from pyetcd_wire._proto import rpc_pb2

C = rpc_pb2.Compare

# (constructor, Compare.target, union field, an operand)
TARGETS = [
    (Compare.value, C.VALUE, "value", b"v"),
    (Compare.version, C.VERSION, "version", 3),
    (Compare.create_revision, C.CREATE, "create_revision", 4),
    (Compare.mod_revision, C.MOD, "mod_revision", 5),
    (Compare.lease, C.LEASE, "lease", 0x694D71DDE4F3E3A2),
]
OPERATORS = [
    (operator.eq, "=", C.EQUAL),
    (operator.ne, "!=", C.NOT_EQUAL),
    (operator.lt, "<", C.LESS),
    (operator.gt, ">", C.GREATER),
]


@pytest.mark.parametrize(("make", "target", "field", "operand"), TARGETS)
@pytest.mark.parametrize(("op", "go_op", "result"), OPERATORS)
def test_target_and_operator_to_proto(
    make: Callable[..., KeyField],
    target: int,
    field: str,
    operand: Any,
    op: Callable[[Any, Any], Any],
    go_op: str,
    result: int,
) -> None:
    compare = op(make(b"k"), operand)
    assert isinstance(compare, Compare)
    expected = C(result=result, target=target, key=b"k")
    setattr(expected, field, operand)
    assert compare.to_proto() == expected
    assert compare.to_proto().WhichOneof("target_union") == field
    # Go's spelling gives the same value.
    assert Compare(make(b"k"), go_op, operand) == compare


def test_zero_operand_is_still_set_in_the_union() -> None:
    # proto3 oneof members are sent even when 0: the target_union must be set.
    message = (Compare.version(b"k") == 0).to_proto()
    assert message.WhichOneof("target_union") == "version"
    assert message.SerializeToString() == b"\x1a\x01k\x20\x00"
    message = (Compare.value(b"k") == b"").to_proto()
    assert message.WhichOneof("target_union") == "value"


def test_wire_bytes() -> None:
    # result=1, target=2, key=3, mod_revision=6, range_end=64.
    message = (Compare.mod_revision(b"a", prefix=True) > 7).to_proto()
    assert message.SerializeToString() == (
        b"\x08\x01\x10\x02\x1a\x01a\x30\x07\x82\x04\x01b"
    )


def test_reflected_operators() -> None:
    # Python turns `0 < field` into `field > 0` and `b"v" == field` into
    # `field == b"v"`; both mean what they say.
    version, mod, value = (Compare.version, Compare.mod_revision, Compare.value)
    assert (0 < version(b"k")) == (version(b"k") > 0)  # noqa: SIM300
    assert (5 > mod(b"k")) == (mod(b"k") < 5)  # noqa: SIM300
    assert (b"v" == value(b"k")) == (value(b"k") == b"v")  # noqa: SIM300
    assert (b"v" != value(b"k")) == (value(b"k") != b"v")  # noqa: SIM300


def test_value_operands() -> None:
    assert (Compare.value("k") == "v").operand == b"v"
    assert (Compare.value("k") == bytearray(b"v")).operand == b"v"
    assert (Compare.value("k") == memoryview(b"\x00")).operand == b"\x00"
    assert (Compare.value("ключ") == "é").to_proto().value == b"\xc3\xa9"


def test_range_compares() -> None:
    compare = Compare.create_revision(b"dir/", prefix=True) == 0
    assert compare.to_proto() == C(
        target=C.CREATE, key=b"dir/", range_end=b"dir0", create_revision=0
    )
    compare = Compare.version(b"a", range_end=b"c") > 1
    assert compare.to_proto().range_end == b"c"
    assert compare.range_end == b"c"
    compare = Compare.value(b"a", range_end=b"\x00") == b"x"
    assert compare.to_proto().range_end == b"\x00"
    # An empty prefix is every key, as for Op.get (Go would send an empty key).
    compare = Compare.version(b"", prefix=True) == 0
    assert (compare.key, compare.range_end) == (b"\x00", b"\x00")
    compare = Compare.lease(b"\xff", prefix=True) == 0
    assert compare.range_end == b"\x00"


def test_accessors() -> None:
    compare = Compare.mod_revision("k", prefix=True) < 9
    assert compare.target == "mod_revision"
    assert compare.key == b"k"
    assert compare.range_end == b"l"
    assert compare.operator == "<"
    assert compare.operand == 9
    field = Compare.lease("k")
    assert (field.target, field.key, field.range_end) == ("lease", b"k", b"")


def test_value_semantics() -> None:
    a = Compare.value(b"k") == b"v"
    b = Compare(Compare.value("k"), "==", "v")
    assert a == b
    assert hash(a) == hash(b)
    assert a != (Compare.value(b"k") != b"v")
    assert a != (Compare.value(b"k", range_end=b"z") == b"v")
    assert a != (Compare.value(b"j") == b"v")
    assert a != (Compare.value(b"k") == b"w")
    assert (Compare.version(b"k") == 1) != (Compare.mod_revision(b"k") == 1)
    assert a != "not a compare"
    assert len({a, b}) == 1
    assert a in [Compare.version(b"k") > 0, b]
    assert copy.copy(a) is a
    assert copy.deepcopy(a) is a


def test_to_proto_returns_a_new_message() -> None:
    compare = Compare.value(b"k") == b"v"
    message = compare.to_proto()
    message.key = b"changed"
    assert compare.to_proto().key == b"k"


@pytest.mark.parametrize(
    ("compare", "text"),
    [
        (Compare.value(b"k") == b"v", "Compare.value(b'k') == b'v'"),
        (Compare.version("k") != 0, "Compare.version(b'k') != 0"),
        (
            Compare.create_revision(b"a", prefix=True) < 3,
            "Compare.create_revision(b'a', range_end=b'b') < 3",
        ),
        (Compare.lease(b"k") > 1, "Compare.lease(b'k') > 1"),
    ],
)
def test_repr(compare: Compare, text: str) -> None:
    assert repr(compare) == text


def test_key_field_repr() -> None:
    assert repr(Compare.mod_revision(b"a", range_end=b"b")) == (
        "Compare.mod_revision(b'a', range_end=b'b')"
    )


def test_immutable() -> None:
    compare = Compare.value(b"k") == b"v"
    with pytest.raises(
        AttributeError, match=r"^Compare is immutable; cannot set _key$"
    ):
        compare._key = b"x"  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"^Compare is immutable; cannot delete"):
        del compare._key
    with pytest.raises(AttributeError):
        compare.key = b"x"  # type: ignore[misc]


# --- misuse -----------------------------------------------------------------------

MISUSE = [
    (
        lambda: Compare.value(b"k") == 5,
        r"^Compare.value\(b'k'\) compares with str or bytes, not int$",
    ),
    (
        lambda: Compare.value(b"k") == None,  # noqa: E711
        r"^Compare.value\(b'k'\) compares with str or bytes, not NoneType$",
    ),
    (
        lambda: Compare.version(b"k") == b"x",
        r"^Compare.version\(b'k'\) compares with an int, not bytes$",
    ),
    (
        lambda: Compare.mod_revision(b"k") > "1",
        r"^Compare.mod_revision\(b'k'\) compares with an int, not str$",
    ),
    (
        lambda: Compare.lease(b"k") == True,  # noqa: E712
        r"^Compare.lease\(b'k'\) compares with an int, not bool$",
    ),
    (
        lambda: Compare.create_revision(b"k") == 1.0,
        r"^Compare.create_revision\(b'k'\) compares with an int, not float$",
    ),
    (
        lambda: Compare.version(b"k") <= 3,
        r"^etcd compares with ==, !=, < and > only, not <=: "
        r"Compare.version\(b'k'\) <= \.\.\. \(x <= n is x < n \+ 1\)$",
    ),
    (
        lambda: Compare.value(b"k") >= b"a",
        r"^etcd compares with ==, !=, < and > only, not >=: "
        r"Compare.value\(b'k'\) >= \.\.\.$",
    ),
    (
        lambda: bool(Compare.value(b"k")),
        r"^Compare.value\(b'k'\) is not a condition: compare it, "
        r"e.g. Compare.value\(b'k'\) == b'...'$",
    ),
    (
        lambda: bool(Compare.version(b"k")),
        r"^Compare.version\(b'k'\) is not a condition: .* == 0$",
    ),
    (
        lambda: bool(Compare.value(b"k") == b"v"),
        r"^Compare.value\(b'k'\) == b'v' has no truth value: give compares as a "
        r"list, compare=\[c1, c2\]",
    ),
    (
        # The classic slip: `and` would silently keep only the second compare.
        lambda: (Compare.value(b"a") == b"1") and (Compare.value(b"b") == b"2"),
        r"has no truth value",
    ),
    (
        lambda: Compare(b"k", "=", b"v"),  # type: ignore[arg-type]
        r"^Compare\(\) takes Compare.value\(key\), Compare.version\(key\), \.\.\. "
        r"as its first argument, not bytes$",
    ),
    (lambda: Compare.version(b"k") == Compare.version(b"k"), r"compares with an int"),
    (lambda: {Compare.value(b"k")}, r"unhashable type"),
]


@pytest.mark.parametrize(("misuse", "message"), MISUSE)
def test_misuse_raises_type_error(misuse: Callable[[], object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        misuse()


VALUE_ERRORS = [
    (
        lambda: Compare(Compare.value(b"k"), "<=", b"v"),
        r"^compare operator must be one of '=', '==', '!=', '<', '>': '<='$",
    ),
    (lambda: Compare.version(b"k") == 2**63, r"operand must fit in int64"),
    (lambda: Compare.value(b""), r"key must not be empty"),
    (lambda: Compare.version(b"", range_end=b"z"), r"key must not be empty"),
    (
        lambda: Compare.value(b"k", prefix=True, range_end=b"z"),
        r"^range_end= and prefix=True cannot be combined",
    ),
    (
        lambda: KeyField("create", b"k"),
        r"^compare target must be one of 'value', 'version', 'create_revision', "
        r"'mod_revision', 'lease': 'create'$",
    ),
]


@pytest.mark.parametrize(("misuse", "message"), VALUE_ERRORS)
def test_bad_values_raise_value_error(
    misuse: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        misuse()


def test_bad_key_type() -> None:
    with pytest.raises(TypeError, match=r"^key must be str or bytes, not int$"):
        Compare.value(1)  # type: ignore[arg-type]
