"""python-etcd3's watches.  (Interface stub: the compat-watch branch writes
this module.)"""

from __future__ import annotations

from typing import Any, Optional


class Watcher:
    """``client.watcher``: every watch of one compat client, with callbacks."""

    def __init__(self, client: Any, timeout: Optional[float] = None) -> None:
        self._client = client
        self.timeout = timeout

    def add_callback(self, key: Any, callback: Any, **kwargs: Any) -> int:
        raise NotImplementedError

    def cancel(self, watch_id: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class WatchMethods:
    """The client's watch methods (a mixin of MultiEndpointEtcd3Client);
    they use ``self.watcher`` and ``self.timeout``."""

    watcher: Watcher
    timeout: Optional[float]
