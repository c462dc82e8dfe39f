"""python-etcd3's exception names.  (Interface stub: the compat-core branch
writes this module; `translated` is what the watch module uses.)"""

from __future__ import annotations


class Etcd3Exception(Exception):
    pass


class WatchTimedOut(Etcd3Exception):
    pass


class RevisionCompactedError(Etcd3Exception):
    def __init__(self, compacted_revision: int) -> None:
        self.compacted_revision = compacted_revision
        super().__init__()


def translated(error: BaseException) -> BaseException:
    """The exception python-etcd3 would have raised (or passed to a watch
    callback) for `error`, one of pyetcd_wire's errors.  Stub: returns it."""
    return error
