"""The fault schedule: seeded random faults, each applied, held 1-5 s, healed.

Two lanes run side by side, each one fault at a time:

* the *member* lane hurts members: SIGKILL + restart (the leader half of
  the time), SIGSTOP/SIGCONT, a member cut from its peers (a minority
  partition), peer latency, leadership transfer, a member removed and added
  back.  Only one member is ever hurt at once, so the cluster keeps quorum
  but for the fault's own duration (a restarted member only rejoins).
* the *network* lane hurts one member's client proxy: black-hole, reset,
  latency, slow drip.

After each fault the lane waits for every member to be healthy again before
the next one.  What each fault did is kept as `Outage`s (when a member could
not serve a client), which the serializable-read check reads.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import pyetcd_wire as etcd

from .cluster import ChaosCluster
from .proxy import BLACKHOLE, DRIP, LATENCY, PASS, RESET, Mode

MEMBER_FAULTS = ("kill", "pause", "partition", "peer-latency", "move-leader", "replace")
NETWORK_FAULTS = ("blackhole", "reset", "latency", "drip")
# Relative weights: removing a member costs the most time, so it is rarer.
_WEIGHTS = {
    "kill": 3,
    "pause": 3,
    "partition": 3,
    "peer-latency": 2,
    "move-leader": 2,
    "replace": 1,
    "blackhole": 3,
    "reset": 3,
    "latency": 2,
    "drip": 2,
}
HEAL_TIMEOUT = 30.0


@dataclass
class Outage:
    """A member its clients could not use, from `start` to `end`."""

    member: str
    start: float
    end: float = float("inf")


@dataclass
class FaultRecord:
    kind: str
    member: str
    start: float
    end: float
    detail: str = ""
    error: Optional[str] = None


class Schedule:
    def __init__(
        self,
        cluster: ChaosCluster,
        seed: int,
        *,
        kinds: Tuple[str, ...] = MEMBER_FAULTS + NETWORK_FAULTS,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.cluster = cluster
        self.kinds = kinds
        self.log = log
        self.records: List[FaultRecord] = []
        self.outages: List[Outage] = []
        self.heal_failures = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._seed = seed

    # --- lanes ------------------------------------------------------------------

    def start(self) -> None:
        lanes = [
            ("member", [k for k in self.kinds if k in MEMBER_FAULTS]),
            ("network", [k for k in self.kinds if k in NETWORK_FAULTS]),
        ]
        for index, (lane, kinds) in enumerate(lanes):
            if not kinds:
                continue
            rng = random.Random(self._seed * 1000 + index)
            thread = threading.Thread(
                target=self._run, args=(rng, kinds), name=f"chaos-{lane}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(HEAL_TIMEOUT + 30)

    def counts(self) -> Dict[str, int]:
        return dict(Counter(record.kind for record in self.records))

    def _run(self, rng: random.Random, kinds: List[str]) -> None:
        weights = [_WEIGHTS[k] for k in kinds]
        self._stop.wait(rng.uniform(0.5, 1.5))
        while not self._stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            member = rng.choice(self.cluster.names)
            duration = rng.uniform(1.0, 5.0)
            self._one(kind, member, duration, rng)
            self._stop.wait(rng.uniform(0.2, 1.0))

    def _one(self, kind: str, member: str, duration: float, rng: random.Random) -> None:
        start = time.monotonic()
        record = FaultRecord(kind, member, start, start)
        try:
            record.detail = getattr(self, "_" + kind.replace("-", "_"))(
                member, duration, rng
            )
        except (etcd.EtcdError, OSError, RuntimeError, TimeoutError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            if not self.cluster.wait_healthy(HEAL_TIMEOUT):
                self.heal_failures += 1
                record.error = (record.error or "") + " (not healthy after heal)"
            record.end = time.monotonic()
            with self._lock:
                self.records.append(record)
            self.log(
                f"fault {kind:<12} {member} {record.end - start:5.1f} s"
                f" {record.detail} {record.error or ''}"
            )

    def _outage(self, member: str) -> Outage:
        outage = Outage(member, time.monotonic())
        with self._lock:
            self.outages.append(outage)
        return outage

    def _hold(self, duration: float) -> None:
        # Not cut short by stop(): a fault always lasts, then heals.
        time.sleep(duration)

    # --- member faults ------------------------------------------------------------

    def _pick_leader(self, member: str, rng: random.Random) -> str:
        if rng.random() < 0.5:
            return self.cluster.leader() or member
        return member

    def _kill(self, member: str, duration: float, rng: random.Random) -> str:
        member = self._pick_leader(member, rng)
        node = self.cluster.members[member]
        outage = self._outage(member)
        try:
            node.kill()
            self._hold(duration)
        finally:
            node.start()
            outage.end = time.monotonic()
        return f"{member} SIGKILL, restarted"

    def _pause(self, member: str, duration: float, rng: random.Random) -> str:
        member = self._pick_leader(member, rng)
        node = self.cluster.members[member]
        outage = self._outage(member)
        node.pause()
        try:
            self._hold(duration)
        finally:
            node.resume()
            outage.end = time.monotonic()
        return f"{member} SIGSTOP/SIGCONT"

    def _partition(self, member: str, duration: float, rng: random.Random) -> str:
        member = self._pick_leader(member, rng)
        hub, cluster = self.cluster.hub, self.cluster
        source = cluster.source_id(member)
        own = cluster.peer_proxies[member]
        others = [p for name, p in cluster.peer_proxies.items() if name != member]
        hub.call(own.set_mode, Mode(BLACKHOLE))
        for proxy in others:
            hub.call(proxy.hold_source, source, True)
        try:
            self._hold(duration)
        finally:
            hub.call(own.set_mode, Mode(PASS))
            for proxy in others:
                hub.call(proxy.hold_source, source, False)
        return f"{member} cut from its peers"

    def _peer_latency(self, member: str, duration: float, rng: random.Random) -> str:
        latency = rng.uniform(0.02, 0.2)
        proxy = self.cluster.peer_proxies[member]
        self._switch(proxy, Mode(LATENCY, latency=latency), duration)
        return f"+{latency * 1000:.0f} ms to its peer port"

    def _move_leader(self, member: str, duration: float, rng: random.Random) -> str:
        leader = self.cluster.leader()
        if leader is None:
            raise RuntimeError("no leader to move")
        target = rng.choice([n for n in self.cluster.names if n != leader])
        node = self.cluster.members[leader]
        with etcd.Client([node.endpoint], timeout=5.0, dial_timeout=2.0) as client:
            client.move_leader(self.cluster.ids[target], timeout=5.0)
        return f"{leader} -> {target}"

    def _replace(self, member: str, duration: float, rng: random.Random) -> str:
        outage = self._outage(member)
        try:
            self.cluster.remove_and_add_back(member)
        finally:
            outage.end = time.monotonic()
        return f"{member} removed, added back as {self.cluster.ids[member]:x}"

    # --- network faults -------------------------------------------------------------

    def _switch(self, proxy: object, mode: Mode, duration: float) -> None:
        hub = self.cluster.hub
        hub.call(proxy.set_mode, mode)  # type: ignore[attr-defined]
        try:
            self._hold(duration)
        finally:
            hub.call(proxy.set_mode, Mode(PASS))  # type: ignore[attr-defined]

    def _client_fault(self, member: str, mode: Mode, duration: float) -> str:
        outage = self._outage(member)
        try:
            self._switch(self.cluster.client_proxies[member], mode, duration)
        finally:
            outage.end = time.monotonic()
        return f"{member} client proxy {mode}"

    def _blackhole(self, member: str, duration: float, rng: random.Random) -> str:
        return self._client_fault(member, Mode(BLACKHOLE), duration)

    def _reset(self, member: str, duration: float, rng: random.Random) -> str:
        return self._client_fault(member, Mode(RESET), duration)

    def _latency(self, member: str, duration: float, rng: random.Random) -> str:
        # Not an outage: a member 400 ms away still serves within a deadline.
        latency = rng.uniform(0.05, 0.4)
        mode = Mode(LATENCY, latency=latency)
        self._switch(self.cluster.client_proxies[member], mode, duration)
        return f"{member} client proxy {mode}"

    def _drip(self, member: str, duration: float, rng: random.Random) -> str:
        rate = rng.choice((2000, 8000, 32000))
        return self._client_fault(member, Mode(DRIP, rate=rate), duration)
