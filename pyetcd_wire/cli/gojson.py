"""etcdctl's `-w json`: Go's encoding/json applied to gogo-protobuf structs.

What Go does, and so this module: fields in declaration order, named by
their proto names (gogo's json tags), every scalar, list and sub-message
`omitempty` (a zero, an empty list or an unset message is left out), bytes
as standard base64, 64-bit integers as exact JSON numbers, enums as their
numbers, a oneof as {"<CamelCaseOneofName>": {"<field>": ...}}, and
`<`, `>`, `&`, U+2028, U+2029 escaped in strings.  The clientv3 wrappers
etcdctl prints for leases and watches (an embedded header flattened into
the top level, Go field names without tags) are built by the callers with
`header_fields` and plain dicts.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Dict, List

if TYPE_CHECKING:
    from google.protobuf.message import Message

JsonObject = Dict[str, Any]

# descriptor.proto's FieldDescriptorProto numbers (fixed by protobuf), so that
# importing this module, as every command module does, loads no protobuf.
_LABEL_REPEATED = 3
_TYPE_BYTES = 12

# Go's encoding/json HTMLEscape and its line-separator escapes (encode.go).
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def dumps(value: Any) -> str:
    """One compact JSON document as Go's json.Marshal writes it."""
    import json  # here: only -w json needs it

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_ESCAPES:
        text = text.replace(char, escape)
    return text


def message(msg: Message) -> JsonObject:
    """A protobuf message as Go encodes its gogo struct."""
    out: JsonObject = {}
    for field in msg.DESCRIPTOR.fields:
        if _is_repeated(field):
            items = getattr(msg, field.name)
            if items:
                out[field.name] = [_value(field, item) for item in items]
            continue
        if field.message_type is not None or field.containing_oneof is not None:
            if not msg.HasField(field.name):
                continue
        elif not getattr(msg, field.name):
            continue
        value = _value(field, getattr(msg, field.name))
        oneof = field.containing_oneof
        if oneof is not None:
            out[_camel(oneof.name)] = {field.name: value}
        else:
            out[field.name] = value
    return out


def _is_repeated(field: Any) -> bool:
    # protobuf >= 6.31 has `is_repeated`; 7 drops `label`.
    repeated = getattr(field, "is_repeated", None)
    if repeated is None:
        return bool(field.label == _LABEL_REPEATED)
    return bool(repeated)


def _value(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return message(value)
    if field.type == _TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def header_fields(msg: Message) -> JsonObject:
    """The response header of `msg` flattened, as Go encodes a struct that
    embeds `*pb.ResponseHeader` (clientv3's lease responses)."""
    header: Message = getattr(msg, "header")  # noqa: B009 - every response has one
    return message(header)


def base64_list(items: List[bytes]) -> List[str]:
    return [base64.b64encode(item).decode("ascii") for item in items]
