"""Is every key's history linearizable, as a register?

The search is Wing & Gong's, with Lowe's memoisation, as porcupine does it
(github.com/anishathalye/porcupine, checker.go): the operations' calls and
returns are entries of one list in time order; the candidates to take effect
next are the calls before the first return still in the list; a candidate
whose step the model allows is taken out of the list (with its return) and
the search goes on, and when a return is reached before its call was taken,
the last choice is undone.  A cache of (taken set, model state) prunes every
configuration already explored.  The history is linearizable when every
completed operation is taken.

The model is one register per key (keys are independent: a history is
linearizable iff each key's is), initially absent (None):

* PUT v: the value becomes v.
* DELETE: the key becomes absent; when the record says whether it deleted
  something (`succeeded`), the key must have been present (or absent).
* GET: returns the value (a serializable GET may be stale: not checked).
* CAS(expect, v): if the value is `expect` (None: absent), it becomes v and
  the CAS succeeded; otherwise nothing changes and it failed.

Operations that failed (``fail``) had no effect and are left out.  An
operation with an unknown outcome may have taken effect at any time after
its start, or never: it has no return entry, and it need not be taken.
An unknown GET tells nothing and is left out.

Three reductions keep the search small, none of which changes the verdict:

* Values nobody observed (read by a GET, or compared by a CAS) are one state,
  OTHER: no operation can tell them apart.
* Unknown operations with the same effect (all unknown deletes; unknown puts
  of unobserved values; unknown CASes with one `expect` writing unobserved
  values) are interchangeable once started: at each point of the search only
  the first of each kind is tried.
* An unknown operation that would not change the state (a delete of an
  absent key, a CAS whose compare fails) is never taken: leaving it out
  leaves more choices.

The search counts its steps; past `budget`, the key's verdict is
"linearizable-undecided", never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .history import CAS, DELETE, FAIL, GET, OK, PUT, UNKNOWN, Op, Violation, describe

#: Steps of the search per key before it gives up: measured at about a
#: second of CPython per million steps.
DEFAULT_BUDGET = 2_000_000

ABSENT = 0  # the state of a key that does not exist
OTHER = 1  # any value no operation observed
ANY = -1  # an operation's check that always holds
_INF = float("inf")
_DETAIL_OPS = 6  # operations named in a violation's detail


@dataclass
class _Step:
    """What one operation does to the register, in state numbers."""

    op: Op
    requires: int  # the state it needs (ANY: any)
    forbids: int  # a state it cannot run in (ANY: none)
    writes: int  # the state after it (ANY: unchanged)
    known: bool  # completed (ok): it must be taken
    kind: int  # for unknown ops: its interchangeability class (-1: unique)


def check(ops: Sequence[Op], budget: int = DEFAULT_BUDGET) -> List[Violation]:
    """One Violation per key whose history cannot be linearized (check
    "linearizable"), or whose search ran out of `budget` steps (check
    "linearizable-undecided")."""
    by_key: Dict[bytes, List[Op]] = {}
    for op in ops:
        if _checked(op):
            by_key.setdefault(op.key, []).append(op)
    violations = []
    for key in sorted(by_key):
        verdict = check_key(by_key[key], budget)
        if verdict is not None:
            violations.append(verdict)
    return violations


def _checked(op: Op) -> bool:
    if op.outcome == FAIL:
        return False
    if op.kind == GET:
        return op.outcome == OK and not op.serializable
    return op.outcome in (OK, UNKNOWN)


def check_key(ops: Sequence[Op], budget: int = DEFAULT_BUDGET) -> Optional[Violation]:
    """The verdict on one key's operations (all of one key, all checked)."""
    steps = _steps(ops)
    result = _Search(steps).run(budget)
    if result is None:
        return None
    if result == "undecided":
        key = ops[0].key
        return Violation(
            "linearizable-undecided",
            f"key {key!r}: {len(ops)} operations not decided within {budget} "
            "steps of the search",
        )
    return Violation("linearizable", _explain(steps, budget))


def _steps(ops: Sequence[Op]) -> List[_Step]:
    # A CAS's compare observes, whatever its outcome: an unknown CAS that
    # applied tells its expected value from any other.
    observed: Dict[Optional[bytes], int] = {None: ABSENT}
    for op in ops:
        if op.kind == GET and op.outcome == OK and op.result is not None:
            observed.setdefault(op.result, len(observed) + 1)
        elif op.kind == CAS and op.expect is not None:
            observed.setdefault(op.expect, len(observed) + 1)

    def state(value: Optional[bytes]) -> int:
        return observed.get(value, OTHER)

    classes: Dict[Tuple[int, int], int] = {}
    steps = []
    for op in sorted(ops, key=lambda o: o.start):
        # An ok CAS whose compare's outcome was not recorded may or may not
        # have written: it is checked as an unknown one (a looser check).
        known = op.outcome == OK and not (op.kind == CAS and op.succeeded is None)
        requires, forbids, writes = ANY, ANY, ANY
        if op.kind == GET:
            requires = state(op.result)
        elif op.kind == PUT:
            writes = state(op.value)
        elif op.kind == DELETE:
            writes = ABSENT
            if known and op.succeeded is True:
                forbids = ABSENT
            elif known and op.succeeded is False:
                requires = ABSENT
        elif op.kind == CAS:
            if not known or op.succeeded is True:
                requires, writes = state(op.expect), state(op.value)
            else:
                forbids = state(op.expect)
        else:
            raise ValueError(f"unknown operation kind {op.kind!r} in {op}")
        kind = -1
        if not known and writes in (ABSENT, OTHER):
            kind = classes.setdefault((requires, writes), len(classes))
        steps.append(_Step(op, requires, forbids, writes, known, kind))
    return steps


class _Search:
    """The list of entries and the depth-first search over it.

    Interchangeable unknown operations (a kind >= 0) are not in the list:
    each kind is a pool, used in order of start, and tried after the list's
    candidates, once per point of the search.  (Scanning past every unknown
    operation not taken, at every step, made the search quadratic.)"""

    def __init__(self, steps: List[_Step]) -> None:
        self.steps = steps
        # Entries: 2*i is op i's call, 2*i+1 its return (known ops only).
        timeline: List[Tuple[float, int, int]] = []
        self.pools: List[List[int]] = []
        for i, step in enumerate(steps):
            if step.kind >= 0:
                while len(self.pools) <= step.kind:
                    self.pools.append([])
                self.pools[step.kind].append(i)  # steps are in start order
                continue
            timeline.append((step.op.start, 0, 2 * i))
            if step.known:
                end = step.op.end if step.op.end is not None else _INF
                timeline.append((end, 1, 2 * i + 1))
        # At equal times calls come first: such operations count as
        # overlapping (the clocks cannot order them).
        timeline.sort()
        size = 2 * len(steps) + 1
        self.head = size - 1  # a sentinel before the first entry
        self.next: List[int] = [-1] * size
        self.prev: List[int] = [-1] * size
        last = self.head
        for _, _, entry in timeline:
            self.next[last] = entry
            self.prev[entry] = last
            last = entry
        self.deepest: List[int] = []  # the longest partial linearization
        self.blocked = -1  # the operation whose return stopped it
        self.state_there = ABSENT
        self.track = False

    def _lift(self, i: int) -> None:
        nxt, prv = self.next, self.prev
        for entry in (2 * i, 2 * i + 1) if self.steps[i].known else (2 * i,):
            nxt[prv[entry]] = nxt[entry]
            if nxt[entry] != -1:
                prv[nxt[entry]] = prv[entry]

    def _unlift(self, i: int) -> None:
        nxt, prv = self.next, self.prev
        for entry in (2 * i + 1, 2 * i) if self.steps[i].known else (2 * i,):
            nxt[prv[entry]] = entry
            if nxt[entry] != -1:
                prv[nxt[entry]] = entry

    def run(self, budget: int) -> Optional[str]:
        """None when linearizable, "no" when not, "undecided" past budget."""
        steps, nxt, pools = self.steps, self.next, self.pools
        remaining = sum(1 for s in steps if s.known)
        used = [0] * len(pools)  # how many of each pool are taken
        cache: Set[Tuple[int, int]] = set()
        # The stack of choices: (op, state before it, where the search of
        # that point resumes: a list entry, or -1 - the next pool).
        stack: List[Tuple[int, int, int]] = []
        taken, state = 0, ABSENT
        cursor = -2
        exhausted = -1  # a point with no choice left
        count = 0
        while remaining:
            count += 1
            if count > budget:
                return "undecided"
            if cursor <= -2:  # the pools first
                pool = -2 - cursor
                first = self._first_return()
                horizon = steps[first >> 1].op.end if first >= 0 else _INF
                assert horizon is not None
                i = -1
                while pool < len(pools):
                    members = pools[pool]
                    if used[pool] < len(members):
                        step = steps[members[used[pool]]]
                        if (
                            step.op.start <= horizon
                            and step.writes != state
                            and step.requires in (ANY, state)
                        ):
                            i = members[used[pool]]
                            break
                    pool += 1
                if i < 0:
                    cursor = nxt[self.head]
                    continue
                cursor = -3 - pool  # this point resumes at the next pool
            elif cursor >= 0 and not cursor & 1:  # a call in the list
                i = cursor >> 1
                step = steps[i]
                cursor = nxt[cursor]
                if (step.requires != ANY and step.requires != state) or (
                    step.forbids != ANY and step.forbids == state
                ):
                    continue
                if not step.known and step.writes == state:
                    continue
            else:  # a return, or the list's end: no choice left here
                if self.track and len(stack) > len(self.deepest):
                    self.deepest = [j for j, _, _ in stack]
                    self.blocked = cursor >> 1 if cursor >= 0 else -1
                    self.state_there = state
                if not stack:
                    return "no"
                i, state, cursor = stack.pop()
                taken &= ~(1 << i)
                step = steps[i]
                if step.known:
                    remaining += 1
                if step.kind >= 0:
                    used[step.kind] -= 1
                else:
                    self._unlift(i)
                continue
            after = state if step.writes == ANY else step.writes
            now_taken = taken | (1 << i)
            if (now_taken, after) in cache:
                continue
            cache.add((now_taken, after))
            stack.append((i, state, cursor))
            taken, state = now_taken, after
            if step.known:
                remaining -= 1
            if step.kind >= 0:
                used[step.kind] += 1
            else:
                self._lift(i)
            cursor = nxt[self.head]
            # A completed operation that never changes the state (a read, a
            # failed compare, a delete that found nothing) may go first when
            # the state allows it: an order from here that holds places it
            # later, and would hold with it first (it is a candidate: all
            # that must precede it is taken).  So it goes, and the point has
            # no other choice.  (Not so a write of the current state: where
            # it stood, it set the state again.)
            entry = cursor
            while entry >= 0 and not entry & 1:
                step = steps[entry >> 1]
                if (
                    step.known
                    and (step.writes == ANY or step.writes == step.requires == state)
                    and step.requires in (ANY, state)
                    and (step.forbids == ANY or step.forbids != state)
                ):
                    i = entry >> 1
                    now_taken = taken | (1 << i)
                    cache.add((now_taken, state))
                    stack.append((i, state, exhausted))
                    taken = now_taken
                    remaining -= 1
                    self._lift(i)
                    entry = nxt[self.head]
                    continue
                entry = nxt[entry]
            cursor = -2
        return None

    def _first_return(self) -> int:
        """The first return entry still in the list (-1: none)."""
        entry = self.next[self.head]
        while entry != -1 and not entry & 1:
            entry = self.next[entry]
        return entry


def _explain(steps: List[_Step], budget: int) -> str:
    """The key, and the operations around the point where every order
    failed: the last writes the longest partial order took, the operation
    that could not be placed after them, and those overlapping it."""
    search = _Search(steps)
    search.track = True
    search.run(budget)
    key = steps[0].op.key
    window: List[int] = []
    writes = [i for i in search.deepest if steps[i].writes != ANY]
    window.extend(writes[-2:])
    if search.blocked >= 0:
        blocked = steps[search.blocked].op
        end = blocked.end if blocked.end is not None else _INF
        taken = set(search.deepest)
        for i, step in enumerate(steps):
            if i in taken or i == search.blocked:
                continue
            if step.op.start <= end and (step.op.end or _INF) >= blocked.start:
                window.append(i)
        window.append(search.blocked)
    window = sorted(set(window), key=lambda i: steps[i].op.start)
    if len(window) > _DETAIL_OPS:
        keep = set(window[-_DETAIL_OPS:]) | {search.blocked}
        window = [i for i in window if i in keep]
    state = {ABSENT: "absent", OTHER: "an unread value"}.get(search.state_there)
    if state is None:
        state = repr(steps[writes[-1]].op.value)
    return (
        f"key {key!r}: after {len(search.deepest)} of {len(steps)} operations "
        f"in order (value then {state}), none can go next: "
        + "; ".join(describe(steps[i].op) for i in window)
    )[:600]
