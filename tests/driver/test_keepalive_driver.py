"""keep_alive() on the stream worker against FakeEtcd
(tests/driver/fake_etcd.py): fan-out, TTL 0, a silent server, stream resets
and connection loss, halting errors, and waking readers on close; each test
against `Client` and `AsyncClient` (conftest.py)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, List, Optional, Union

import pytest

from pyetcd_wire import Client
from pyetcd_wire._core.lease import FIRST_RESPONSE_TIMEOUT
from pyetcd_wire._proto import rpc_pb2
from pyetcd_wire._sync.lease_keepalive import KeepAlive
from pyetcd_wire.errors import (
    DeadlineExceededError,
    KeepAliveHaltedError,
    LeaseExpiredError,
    LeaseNotFoundError,
)
from pyetcd_wire.recipes import Session
from pyetcd_wire.recipes._async.session import GRANT_APPLIED_WAITS
from tests.async_bridge import AnyClient, BlockingStream
from tests.driver.fake_etcd import (
    INTERNAL_ERROR,
    REFUSED_STREAM,
    FakeEtcd,
    KeepAliveStreamState,
    header,
)
from tests.helpers import keep_alive_subscriptions, wait_for, waiting_in_get

pytestmark = pytest.mark.timeout(30)

#: FakeEtcd.on_keep_alive: ``hook(stream, lease_id, n) -> handled``.
KeepAliveHook = Callable[[KeepAliveStreamState, int, int], bool]

#: A subscription of either client: `KeepAlive`, or `AsyncKeepAlive` bridged.
AnyKeepAlive = Union[KeepAlive, BlockingStream]


def read_until_error(
    ka: AnyKeepAlive, seen: List[rpc_pb2.LeaseKeepAliveResponse], timeout: float = 5.0
) -> None:
    """Append responses to `seen` until `get()` raises (fail at `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        response = ka.get(timeout=max(0.0, deadline - time.monotonic()))
        assert response is not None, f"no error after {len(seen)} responses"
        seen.append(response)


def stream_worker_ended(client: AnyClient) -> Callable[[], bool]:
    """Whether the client's stream worker, running now, has ended since: the
    sync worker is a thread (close() joins it); the asyncio one is event
    loop callbacks and a timer (aclose() closes it and cancels the timer)."""
    if isinstance(client, Client):
        thread = client._worker.thread
        assert thread is not None
        assert thread.name.startswith("pyetcd-wire-streams")
        return lambda: not thread.is_alive()
    worker = client._worker  # read on the loop (the bridge's attribute rule)
    assert worker is not None
    return lambda: (
        worker._closed and (worker._timer is None or worker._timer.cancelled())
    )


def requests_per_stream(fake: FakeEtcd) -> List[List[int]]:
    return [list(s.requests) for s in fake.keep_alive_streams]


def subscribe_in_threads(
    client: AnyClient, lease_id: int, count: int
) -> Callable[[], List[Union[AnyKeepAlive, BaseException]]]:
    """`count` threads each call `keep_alive(lease_id)` (which returns once the
    server answered), once every one has subscribed; returns a function that
    joins them and gives what each got: the subscription, or its error."""
    results: List[Union[AnyKeepAlive, BaseException]] = []

    def subscribe() -> None:
        try:
            results.append(client.keep_alive(lease_id))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=subscribe, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    wait_for(lambda: keep_alive_subscriptions(client, lease_id) == count)

    def join() -> List[Union[AnyKeepAlive, BaseException]]:
        for thread in threads:
            thread.join(10)
            assert not thread.is_alive()
        return results

    return join


def test_responses_fan_out_to_every_subscription_of_a_lease(etcd):
    fake, _, client = etcd()  # silent until the test answers
    join = subscribe_in_threads(client, 7, 2)
    wait_for(lambda: requests_per_stream(fake) == [[7]])
    stream = fake.keep_alive_streams[0]
    assert stream.peer.requests[stream.sid].headers[b"hasleader"] == b"true"
    response = rpc_pb2.LeaseKeepAliveResponse(header=header(1), ID=7, TTL=30)
    fake.on_stream(
        stream, lambda peer, sid: peer.send_message(sid, response.SerializeToString())
    )
    a, b = join()  # keep_alive() returned: the first renewal was answered
    for subscription in (a, b):
        assert subscription.response == response
        got = subscription.get(timeout=5)  # iteration yields it too
        assert got == response
        assert not subscription.lost
    assert requests_per_stream(fake) == [[7]]  # one request for both; next in 10 s
    a.close()
    assert b.get(timeout=0.05) is None  # b is still subscribed, nothing new
    assert not b.lost
    assert not b.closed


def test_a_subscription_joining_a_renewed_lease_renews_it_at_once(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[7] = 30  # the next renewal is due in 10 s
    a = client.keep_alive(7)
    assert a.response.TTL == 30
    b = client.keep_alive(7)  # returns with a renewal of its own, not in 10 s
    assert b.response.TTL == 30
    assert requests_per_stream(fake) == [[7, 7]]
    assert [a.get(timeout=5).TTL, a.get(timeout=5).TTL] == [30, 30]  # both seen


def test_renewals_repeat_at_a_third_of_the_ttl(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[4] = 1  # renew every 1/3 s
    started = time.monotonic()  # before the first renewal was answered
    ka = client.keep_alive(4)
    for _ in range(4):
        got = ka.get(timeout=3)
        assert got is not None
        assert (got.ID, got.TTL) == (4, 1)
    # 3 renewals after the first, each due 1/3 s after the previous answer:
    # not sooner (a slow machine only makes them later; the lease, renewed
    # too late, would be lost).
    assert time.monotonic() - started > 0.99
    assert not ka.lost


def test_ttl_zero_means_lost_and_iteration_raises(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[9] = 1
    ka = client.keep_alive(9)
    assert ka.get(timeout=3).TTL == 1
    fake.lease_ttl[9] = 0  # revoked: the next renewal answers TTL 0
    seen: List[rpc_pb2.LeaseKeepAliveResponse] = []
    with pytest.raises(LeaseExpiredError, match="TTL <= 0") as info:
        read_until_error(ka, seen)
    assert all(r.TTL == 1 for r in seen)  # renewals queued before the loss
    assert info.value.lease_id == 9
    assert ka.lost
    assert "TTL <= 0" in ka.lost_reason
    with pytest.raises(LeaseExpiredError):
        ka.get(timeout=1)  # every time
    count = fake.keep_alive_requests
    time.sleep(0.5)
    assert fake.keep_alive_requests == count  # a lost lease is not renewed


def test_silent_server_loses_the_lease_after_the_first_response_timeout(etcd):
    fake, _, client = etcd(dial_timeout=0.2)  # first response due in 1.2 s
    started = time.monotonic()
    with pytest.raises(LeaseExpiredError, match="deadline") as info:
        client.keep_alive(5)
    elapsed = time.monotonic() - started
    # Not before dial_timeout + 1 s; and not the 5 s a client without a
    # dial_timeout waits (a bound a slow machine does not come near).
    assert 1.19 < elapsed < FIRST_RESPONSE_TIMEOUT, elapsed
    assert info.value.lease_id == 5
    assert requests_per_stream(fake) == [[5]]  # sent once, never resent
    assert keep_alive_subscriptions(client, 5) == 0  # nothing left behind


@pytest.mark.parametrize("where", ["call", "client"])
def test_keep_alive_waits_for_the_first_renewal_within_its_timeout(etcd, where):
    # The rule every call follows: timeout= bounds the wait, None is the
    # client's default.  The lease's own first-response deadline (here 31 s)
    # would end the wait otherwise, with LeaseExpiredError.
    if where == "call":
        fake, _, client = etcd(dial_timeout=30.0)
        ka = lambda: client.keep_alive(5, timeout=0.2)  # noqa: E731
    else:
        fake, _, client = etcd(dial_timeout=30.0, timeout=0.2)
        ka = lambda: client.keep_alive(5)  # noqa: E731
    with pytest.raises(DeadlineExceededError, match="first renewal of lease 5"):
        ka()
    assert keep_alive_subscriptions(client, 5) == 0  # nothing left behind
    fake.lease_ttl[5] = 60
    assert client.keep_alive(5, timeout=30.0).response.TTL == 60


def test_a_lease_the_server_does_not_know_fails_keep_alive(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[5] = 0  # etcd answers TTL 0, not an error
    with pytest.raises(LeaseNotFoundError) as info:
        client.keep_alive(5)
    assert isinstance(info.value.__cause__, LeaseExpiredError)
    assert info.value.__cause__.lease_id == 5
    assert keep_alive_subscriptions(client, 5) == 0
    assert requests_per_stream(fake) == [[5]]


def test_lease_lost_when_renewals_stop_before_the_ttl_runs_out(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[6] = 1
    answers: List[float] = []  # when the server answered each request

    def answer(state: KeepAliveStreamState, lease_id: int, n: int) -> bool:
        ttl = fake.lease_ttl.get(lease_id)
        if ttl is not None:  # else silent
            answers.append(time.monotonic())
            response = rpc_pb2.LeaseKeepAliveResponse(
                header=header(fake.revision), ID=lease_id, TTL=ttl
            )
            state.peer.send_message(state.sid, response.SerializeToString())
        return True

    fake.on_keep_alive = answer
    ka = client.keep_alive(6)
    assert ka.get(timeout=3).TTL == 1
    del fake.lease_ttl[6]  # the server goes silent
    with pytest.raises(LeaseExpiredError, match="deadline"):
        read_until_error(ka, [])
    # Lost one TTL after the last answer, not sooner (read_until_error's 5 s
    # bound a loss never noticed).
    assert time.monotonic() - answers[-1] > 0.99


def _reset_first_request(code: int) -> KeepAliveHook:
    def hook(state: KeepAliveStreamState, lease_id: int, n: int) -> bool:
        if n == 0:
            state.live = False
            state.peer.reset(state.sid, code)
            return True
        return False

    return hook


def _trailers_on_first_request(
    grpc_status: int, message: str, *, nth: int = 0
) -> KeepAliveHook:
    """End the stream with a status at the `nth` request (0: the first)."""

    def hook(state: KeepAliveStreamState, lease_id: int, n: int) -> bool:
        if n == nth:
            state.live = False
            state.peer.send_trailers(
                state.sid, grpc_status=grpc_status, grpc_message=message
            )
            return True
        return False

    return hook


def _abort_on_first_request(state: KeepAliveStreamState, lease_id: int, n: int):
    if n == 0:
        state.live = False
        state.conn.abort()
        return True
    return False


def _held_until(gate: threading.Event, hook: KeepAliveHook) -> KeepAliveHook:
    """`hook`, run once `gate` is set: the server holds its answer until the
    test is ready.  Two calls of the bridged AsyncClient are two turns of its
    loop, apart enough for the first request to be sent and answered between
    them (a sync client paused there fails alike)."""

    def held(state: KeepAliveStreamState, lease_id: int, n: int) -> bool:
        assert gate.wait(5)
        return hook(state, lease_id, n)

    return held


@pytest.mark.parametrize(
    ("hook", "connections"),
    [
        (_reset_first_request(INTERNAL_ERROR), 1),
        (_reset_first_request(REFUSED_STREAM), 1),
        (_trailers_on_first_request(14, "etcdserver: no leader"), 1),
        (_abort_on_first_request, 2),
    ],
    ids=["rst-internal-error", "rst-refused-stream", "no-leader", "abort"],
)
def test_stream_failure_resends_on_a_new_stream_and_the_lease_stays_alive(
    etcd, hook, connections
):
    fake, server, client = etcd()
    fake.lease_ttl[3] = 30
    fake.on_keep_alive = hook
    ka = client.keep_alive(3)
    got = ka.get(timeout=5)
    assert got is not None
    assert (got.ID, got.TTL) == (3, 30)
    assert not ka.lost
    assert requests_per_stream(fake) == [[3], [3]]
    assert len(server.connections) == connections


def test_non_retryable_stream_status_halts_keep_alive(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[8] = 30
    both = threading.Event()  # the answer waits for both subscriptions
    fake.on_keep_alive = _held_until(
        both, _trailers_on_first_request(7, "etcdserver: permission denied")
    )
    join = subscribe_in_threads(client, 8, 2)
    both.set()
    errors = join()
    assert len(errors) == 2
    for error in errors:
        assert isinstance(error, KeepAliveHaltedError)
        assert "permission denied" in str(error)
    time.sleep(0.2)
    assert requests_per_stream(fake) == [[8]]  # not resumed


def test_halted_after_the_first_renewal_ends_iteration(etcd):
    fake, _, client = etcd()
    fake.lease_ttl[8] = 1  # renewed every 1/3 s

    fake.on_keep_alive = _trailers_on_first_request(
        7, "etcdserver: permission denied", nth=1
    )
    ka = client.keep_alive(8)
    seen: List[rpc_pb2.LeaseKeepAliveResponse] = []
    with pytest.raises(KeepAliveHaltedError, match="permission denied"):
        read_until_error(ka, seen)
    assert [r.TTL for r in seen] == [1]
    assert ka.lost


@pytest.mark.parametrize("stop", ["close-subscription", "close-client"])
def test_iteration_in_another_thread_is_woken(etcd, stop):
    fake, _, client = etcd()
    fake.lease_ttl[2] = 300  # the next renewal is due in 100 s: nothing else wakes it
    ka = client.keep_alive(2)
    got: List[rpc_pb2.LeaseKeepAliveResponse] = []
    errors: List[BaseException] = []

    def consume() -> None:
        try:
            for response in ka:
                got.append(response)
        except BaseException as exc:
            errors.append(exc)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    wait_for(lambda: len(got) == 1)
    wait_for(lambda: waiting_in_get(ka))  # the consumer waits in get() again
    worker_ended: Optional[Callable[[], bool]] = None
    if stop == "close-subscription":
        ka.close()
    else:
        worker_ended = stream_worker_ended(client)
        client.close()  # also ends the stream worker
    consumer.join(10)  # a bound on a hang only
    assert not consumer.is_alive()
    assert errors == []
    assert [r.TTL for r in got] == [300]
    assert ka.closed
    assert not ka.lost  # closing is not losing the lease
    if worker_ended is not None:
        assert worker_ended()


@pytest.mark.parametrize("client_class", [Client], ids=["sync"])
def test_a_lost_lease_is_logged_outside_the_stream_lock(etcd):
    """The WARNING of a lost lease is emitted with the stream worker's lock
    released, as every other record (a handler may be slow, or write to
    something that takes a while; the lock stops every watch and
    keep-alive): a handler that takes the lock got it (it waited for
    itself before)."""
    fake, _, client = etcd()
    fake.lease_ttl[9] = 1
    ka = client.keep_alive(9)
    assert ka.get(timeout=3).TTL == 1
    lock = client._worker._lock
    took: List[bool] = []

    class TakesTheLock(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got = lock.acquire(timeout=5)
            if got:
                lock.release()
            took.append(got)

    handler = TakesTheLock(logging.WARNING)
    lease_log = logging.getLogger("pyetcd_wire.lease")
    lease_log.addHandler(handler)
    try:
        fake.lease_ttl[9] = 0  # revoked: the next renewal answers TTL 0
        with pytest.raises(LeaseExpiredError, match="TTL <= 0"):
            read_until_error(ka, [], timeout=15)
        # The subscription learns of the loss before the worker logs it (the
        # record goes out once the lock is released): wait for the record.
        wait_for(lambda: took, timeout=15)
    finally:
        lease_log.removeHandler(handler)
    assert took == [True]


@pytest.mark.parametrize("client_class", [Client])
def test_a_session_asks_again_when_its_new_lease_is_not_found_yet(etcd):
    """etcd before 3.5.3 may answer the first keep-alive of a lease it just
    granted with TTL 0: its leader had not applied the grant yet
    (etcd-io/etcd#13675, seen in the demo on etcd 3.5.1).  A Session that
    granted the lease asks again before it believes it."""
    fake, _, client = etcd()
    fake.grant_id = 7
    answers = iter([0, 0, 30])

    def not_applied_yet(state, lease_id, n):
        fake.lease_ttl[7] = next(answers, 30)
        return False  # answered from lease_ttl

    fake.on_keep_alive = not_applied_yet
    session = Session(client, ttl=30)
    assert session.lease_id == 7
    assert not session.lost
    assert fake.keep_alive_requests == 3


@pytest.mark.parametrize("client_class", [Client])
def test_a_session_gives_up_on_a_lease_that_stays_not_found(etcd):
    fake, _, client = etcd()
    fake.grant_id = 8
    fake.lease_ttl[8] = 0  # revoked at once, for good
    with pytest.raises(LeaseNotFoundError):
        Session(client, ttl=30)
    assert fake.keep_alive_requests == 1 + len(GRANT_APPLIED_WAITS)
    fake.keep_alive_requests = 0
    with pytest.raises(LeaseNotFoundError):
        Session(client, lease_id=8)  # a lease it did not grant: believed at once
    assert fake.keep_alive_requests == 1
