"""One candidate of tests/integration/test_recipes_election.py's failover
test, as a process of its own (so the test can SIGKILL it):

    python -m tests.recipes_election_candidate ENDPOINTS NAME IDENT TTL LOG_KEY

It campaigns in election NAME with a session of TTL seconds on a client of
ENDPOINTS (comma-separated), and while leader writes ``"IDENT TERM"`` to
LOG_KEY every 50 ms in a transaction fenced by `Election.is_leader()`; so
etcd's history of LOG_KEY shows who really wrote as leader, and when, in
revisions.  It prints ``LEADER <term>`` when elected and ``LOST <term>``
when a fenced write fails or the session is lost, then campaigns again with
a new session.  Exits when stdin closes (the test, or its process, ended).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pyetcd_wire as etcd
from pyetcd_wire.recipes import Session
from pyetcd_wire.recipes._sync.election import Election

WRITE_EVERY = 0.05  # seconds between fenced writes while leader


def lead(client: etcd.Client, election: Election, session: Session, log: str) -> None:
    """Write fenced while leader; return once leadership is provably gone."""
    record = f"{sys.argv[3]} {election.revision}"
    while not session.lost:
        try:
            done = client.txn(
                compare=[election.is_leader()], success=[etcd.Op.put(log, record)]
            )
        except etcd.EtcdError:  # unreachable member: the lease decides
            time.sleep(WRITE_EVERY)
            continue
        if not done.succeeded:
            return
        time.sleep(WRITE_EVERY)


def term(client: etcd.Client, name: str, ident: str, ttl: int, log: str) -> None:
    with Session(client, ttl=ttl) as session:
        election = Election(session, name)
        election.campaign(ident)
        print(f"LEADER {election.revision}", flush=True)
        lead(client, election, session, log)
        print(f"LOST {election.revision}", flush=True)


def main() -> None:
    endpoints, name, ident, ttl, log = sys.argv[1:6]
    # Die with the test: it holds our stdin open.
    threading.Thread(
        target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True
    ).start()
    with etcd.Client(endpoints.split(","), dial_timeout=1.0, timeout=2.0) as client:
        while True:
            try:
                term(client, name, ident, int(ttl), log)
            except etcd.EtcdError:  # e.g. our member is down: try again
                time.sleep(0.1)


if __name__ == "__main__":
    main()
