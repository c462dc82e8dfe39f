"""Recorded etcd sessions (tests/fuzz/transcripts/), and their mutations.

A transcript is one client connection as scripts/record_transcripts.py saw
it: the server's bytes, the pieces they arrived in, the client's actions
at the offsets where it took them (which calls it started, in stream-id
order, and what it sent, cancelled or consumed), and the connection's
limits.  Replayed unchanged it ends every call as the real session did.

`mutated(src, transcripts)` picks one and changes it the way a broken or
hostile server, or a broken network, would: bits flipped, octets inserted
or deleted, a frame's length field changed, frames duplicated, reordered or
dropped; then cuts it at random points.  Mutations work frame by frame, so
the client's actions stay next to the frames they came before.
"""

from __future__ import annotations

import gzip
import json
import pathlib
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .generate import Source, pick
from .harness import Action, Config, Scenario

DIRECTORY = pathlib.Path(__file__).parent / "transcripts"


@dataclass
class Transcript:
    name: str
    # Every frame with the client's actions taken just before it arrived.
    frames: List[Tuple[Tuple[Action, ...], bytes]]
    trailing: Tuple[Action, ...]  # actions after the last frame
    splits: Tuple[int, ...]  # where the real reads ended
    config: Config
    messages: int  # delivered in the real session
    messages_sha256: str  # of those messages, in order

    def scenario(self) -> Scenario:
        """The session as it happened."""
        return _assemble(self.frames, self.trailing, self.splits, self.config)


def _split_frames(data: bytes) -> List[Tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 9 <= len(data):
        end = pos + 9 + int.from_bytes(data[pos : pos + 3], "big")
        out.append((pos, data[pos:end]))
        pos = end
    if pos < len(data):
        out.append((pos, data[pos:]))
    return out


def load(path: pathlib.Path) -> Transcript:
    text = path.read_bytes()
    raw = json.loads(gzip.decompress(text) if path.suffix == ".gz" else text)
    data = bytes.fromhex("".join(raw["data"]))
    actions = [(int(offset), tuple(action)) for offset, action in raw["actions"]]
    frames: List[Tuple[Tuple[Action, ...], bytes]] = []
    i = 0
    for start, frame in _split_frames(data):
        before = []
        while i < len(actions) and actions[i][0] <= start:
            before.append(actions[i][1])
            i += 1
        frames.append((tuple(before), frame))
    trailing = tuple(action for _, action in actions[i:])
    return Transcript(
        name=path.name.split(".")[0],
        frames=frames,
        trailing=trailing,
        splits=tuple(raw["splits"]),
        config=Config(**raw["config"]),
        messages=raw["messages"],
        messages_sha256=raw["messages_sha256"],
    )


def load_transcripts() -> List[Transcript]:
    return [load(path) for path in sorted(DIRECTORY.glob("*.json*"))]


def _assemble(
    frames: Sequence[Tuple[Tuple[Action, ...], bytes]],
    trailing: Tuple[Action, ...],
    splits: Sequence[int],
    config: Config,
) -> Scenario:
    actions: List[Tuple[int, Action]] = []
    pos = 0
    for before, frame in frames:
        actions += [(pos, action) for action in before]
        pos += len(frame)
    total = pos
    actions += [(total, action) for action in trailing]
    data = b"".join(frame for _, frame in frames)
    return Scenario(data=data, splits=splits, actions=actions, config=config)


def _mutate_frame(src: Source, frame: bytes) -> bytes:
    kind = src.integer(0, 4)
    pos = src.integer(0, max(len(frame) - 1, 0))
    if kind == 0 and frame:  # flip a bit
        return (
            frame[:pos]
            + bytes([frame[pos] ^ (1 << src.integer(0, 7))])
            + frame[pos + 1 :]
        )
    if kind == 1:  # insert octets
        return frame[:pos] + src.raw(16) + frame[pos:]
    if kind == 2:  # delete octets
        return frame[:pos] + frame[pos + src.integer(1, 16) :]
    if kind == 3 and len(frame) >= 9:  # change the length field
        length = int.from_bytes(frame[:3], "big")
        new = pick(src, (0, length + 1, max(length - 1, 0), 16_385, 2**24 - 1))
        return min(new, 2**24 - 1).to_bytes(3, "big") + frame[3:]
    if len(frame) >= 9:  # change the type, flags or stream id
        field = src.integer(3, 8)
        return frame[:field] + bytes([src.integer(0, 255)]) + frame[field + 1 :]
    return frame


def mutated(src: Source, transcripts: Sequence[Transcript]) -> Scenario:
    """One transcript, changed by a few mutations, cut at random points."""
    transcript = pick(src, transcripts)
    frames = list(transcript.frames)
    for _ in range(src.integer(0, 4)):
        if not frames:
            break
        i = src.integer(0, len(frames) - 1)
        kind = src.integer(0, 5)
        if kind <= 1:
            before, frame = frames[i]
            frames[i] = (before, _mutate_frame(src, frame))
        elif kind == 2:  # duplicate (the copy without the actions)
            frames.insert(i + 1, ((), frames[i][1]))
        elif kind == 3:  # swap two frames (their actions stay in place)
            j = src.integer(0, len(frames) - 1)
            (bi, fi), (bj, fj) = frames[i], frames[j]
            frames[i], frames[j] = (bi, fj), (bj, fi)
        elif kind == 4:  # drop a frame, keeping its actions
            before, _ = frames.pop(i)
            if i < len(frames):
                frames[i] = (before + frames[i][0], frames[i][1])
        else:  # insert random octets between frames
            frames.insert(i, ((), src.raw(32)))
    scenario = _assemble(frames, transcript.trailing, (), transcript.config)
    n = len(scenario.data)
    if src.integer(0, 3):
        scenario.splits = [src.integer(0, n) for _ in range(src.integer(0, 8))]
    else:
        scenario.splits = transcript.splits
    return scenario
