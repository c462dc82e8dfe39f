"""python-etcd3's watch events (``etcd3.events``): `PutEvent` and
`DeleteEvent`, each wrapping one etcd ``mvccpb.Event``.

python-etcd3 forwarded every attribute through ``__getattr__``: ``prev_x``
to the event's previous key-value, anything else to its key-value.  Here the
same names are properties (``key``, ``value``, ``create_revision``,
``mod_revision``, ``version``, ``lease`` and their ``prev_`` twins), so they
are typed and listed by ``dir()``; a name that is not a key-value field
raises AttributeError here, where python-etcd3 handed out the protobuf
message's own attributes.  ``prev_*`` are empty (b"", 0) unless the watch
asked for ``prev_kv``, as in python-etcd3.
"""

from __future__ import annotations

from typing import Dict, Type

from ..._proto import kv_pb2


class Event:
    """One change of one key: the key-value after it, and with ``prev_kv``
    the one before it."""

    def __init__(self, event: kv_pb2.Event) -> None:
        self._event = event

    @property
    def key(self) -> bytes:
        return self._event.kv.key

    @property
    def value(self) -> bytes:
        """The value after the change (b"" for a delete)."""
        return self._event.kv.value

    @property
    def create_revision(self) -> int:
        return self._event.kv.create_revision

    @property
    def mod_revision(self) -> int:
        """The revision of this change."""
        return self._event.kv.mod_revision

    @property
    def version(self) -> int:
        return self._event.kv.version

    @property
    def lease(self) -> int:
        return self._event.kv.lease

    @property
    def prev_key(self) -> bytes:
        return self._event.prev_kv.key

    @property
    def prev_value(self) -> bytes:
        """The value before the change (with ``prev_kv``)."""
        return self._event.prev_kv.value

    @property
    def prev_create_revision(self) -> int:
        return self._event.prev_kv.create_revision

    @property
    def prev_mod_revision(self) -> int:
        return self._event.prev_kv.mod_revision

    @property
    def prev_version(self) -> int:
        return self._event.prev_kv.version

    @property
    def prev_lease(self) -> int:
        return self._event.prev_kv.lease

    def __str__(self) -> str:
        # python-etcd3's words: "<class '...PutEvent'> key=b'k' value=b'v'".
        return f"{self.__class__} key={self.key!r} value={self.value!r}"

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} key={self.key!r} value={self.value!r}"
            f" mod_revision={self.mod_revision}>"
        )


class PutEvent(Event):
    """A key was written (created or updated)."""


class DeleteEvent(Event):
    """A key was deleted (or its lease expired)."""


#: The class of each ``mvccpb.Event.EventType`` (kv.proto).
_EVENT_CLASSES: Dict[int, Type[Event]] = {
    kv_pb2.Event.PUT: PutEvent,
    kv_pb2.Event.DELETE: DeleteEvent,
}


def new_event(event: kv_pb2.Event) -> Event:
    """`event` as a `PutEvent` or a `DeleteEvent`.

    Raises:
        ValueError: an event type etcd does not define (python-etcd3 raised
            a bare Exception).
    """
    cls = _EVENT_CLASSES.get(event.type)
    if cls is None:
        raise ValueError(f"invalid watch event type {event.type}")
    return cls(event)


__all__ = ["DeleteEvent", "Event", "PutEvent", "new_event"]
