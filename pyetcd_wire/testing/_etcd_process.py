"""Child-process plumbing for the etcd test kit: ports, reaping, probes.

Private to the test kit; ``pyetcd_wire.testing.etcd`` is the public face and
its "Theory of operation" explains the three layers that keep any child from
outliving the tests. Here live those layers (the registry of live children,
the ``atexit`` hook, ``PR_SET_PDEATHSIG``, signal-then-reap), plus free
ports, the environment handed to children, and the HTTP probes of a
member's client port.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import http.client
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import Callable, Mapping, Sequence

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_live_lock = threading.Lock()
_live: dict[int, subprocess.Popen[bytes]] = {}
_ports_lock = threading.Lock()
_ports_given: set[int] = set()  # never hand out the same port twice


#: Where ports are picked: below the kernel's ephemeral range (Linux's
#: ip_local_port_range, 32768-60999 by default; 49152-65535 elsewhere), where
#: no outgoing connection takes one on its own.  A port from bind(("", 0)) is
#: an ephemeral one: between a member's stop and its restart on the same port
#: (or between the pick and etcd's bind), any connection the machine opens may
#: get it as its local port, and etcd then fails with "address already in use".
_PICK_FROM = 15000
_EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
#: Test runs side by side on one machine (scripts/test runs two lanes at once)
#: each take their own part of that range, as ``"LOW-HIGH"``: a port one run
#: picked, or left free between a member's stop and its restart, is then never
#: the other's pick.
PORTS_VARIABLE = "PYETCD_WIRE_TEST_PORTS"


def _pick_range() -> tuple[int, int]:
    """The ports `_free_ports` picks from, [low, high): ``$PYETCD_WIRE_TEST_PORTS``
    if set, else from `_PICK_FROM` up to the ephemeral range."""
    given = os.environ.get(PORTS_VARIABLE)
    if not given:
        return _PICK_FROM, _first_ephemeral_port()
    low, _, high = given.partition("-")
    try:
        bounds = int(low), int(high) + 1
    except ValueError:
        bounds = (0, 0)
    if not 1024 <= bounds[0] < bounds[1] - 100 <= 65536:
        raise ValueError(
            f"{PORTS_VARIABLE}={given!r}: expected LOW-HIGH, two ports from 1024"
            " to 65535 at least 100 apart, e.g. 15000-23999"
        )
    return bounds


def _first_ephemeral_port() -> int:
    try:
        with open(_EPHEMERAL_RANGE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152  # IANA's dynamic range; Linux's own default starts lower


def _free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now, from `_pick_range` (below the ephemeral
    range), never the same one twice; all bound at once so they differ."""
    bottom, top = _pick_range()
    if top - bottom < 100:  # an unusual ephemeral range: ask the kernel instead
        return _kernel_picked_ports(count)
    rand = random.Random()
    with _ports_lock, contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count + 1000):
            port = rand.randrange(bottom, top - 1)  # P + 1 below it too
            if port in _ports_given:
                continue
            sock = stack.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use
                continue
            ports.append(port)
            if len(ports) == count:
                _ports_given.update(ports)
                return ports
    raise RuntimeError(f"no {count} free ports in {bottom}-{top - 1}")


def _kernel_picked_ports(count: int) -> list[int]:
    """`_free_ports`, picked by the kernel (ephemeral ports)."""
    with _ports_lock, contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count + 100):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            if port not in _ports_given:
                ports.append(port)
            if len(ports) == count:
                _ports_given.update(ports)
                return ports
    raise RuntimeError("the kernel keeps handing out the same ports")


def _parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` arming PR_SET_PDEATHSIG, or None where impossible."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None  # the signal would fire when *this thread* ends
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return arm


@functools.cache
def _prctl() -> Callable[[int, int], int] | None:
    try:
        function: Callable[[int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


@atexit.register
def _kill_survivors() -> None:
    """Kill every member a test forgot to stop (or could not, having crashed)."""
    with _live_lock:
        procs = list(_live.values())
        _live.clear()
    for proc in procs:
        proc.kill()
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)


def _track(proc: subprocess.Popen[bytes]) -> None:
    """Register a child for ``_kill_survivors`` until ``_terminate`` reaps it."""
    with _live_lock:
        _live[proc.pid] = proc


def _terminate(
    procs: Sequence[subprocess.Popen[bytes]],
    grace: float,
    signum: signal.Signals = signal.SIGTERM,
) -> None:
    """Send ``signum`` (and SIGCONT, in case paused) to all, SIGKILL after
    ``grace``; reap them all and forget them."""
    for proc in procs:
        proc.send_signal(signum)
        proc.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with _live_lock:
        for proc in procs:
            _live.pop(proc.pid, None)


def _child_env(extra: Mapping[str, str] | None, keep: str) -> dict[str, str]:
    """The parent's environment minus variables that would configure the child.

    etcd reads ``ETCD_*`` and etcdctl ``ETCDCTL_*`` as flags; ``keep`` is the
    one prefix-matching variable let through.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ETCD_", "ETCDCTL_", "ETCDUTL_")) or key == keep
    }
    env.update(extra or {})
    return env


# --- HTTP probes -------------------------------------------------------------


def _probe(
    port: int, path: str, timeout: float, tls: ssl.SSLContext | None = None
) -> tuple[int, bytes] | str:
    """GET ``path`` on 127.0.0.1:port (HTTPS with ``tls``): (status, body),
    or why it failed."""
    conn = (
        http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        if tls is None
        else http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=tls
        )
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def _health(
    port: int, timeout: float, tls: ssl.SSLContext | None = None
) -> tuple[bool, str]:
    """(healthy?, what /health said)."""
    # A NOSPACE alarm still lets the member serve reads and deletes.
    answer = _probe(port, "/health?exclude=NOSPACE", timeout, tls)
    if isinstance(answer, str):
        return False, answer
    status, body = answer
    text = body.decode("utf-8", "replace").strip()
    try:
        healthy = status == 200 and json.loads(body).get("health") == "true"
    except ValueError:
        healthy = False
    return healthy, f"HTTP {status} {text}"


def _is_leader(port: int) -> bool:
    answer = _probe(port, "/metrics", timeout=0.5)
    if isinstance(answer, str) or answer[0] != 200:
        return False
    return re.search(rb"^etcd_server_is_leader 1$", answer[1], re.M) is not None
