"""Where a TensorFlow step's time goes: time per op type, from a TF1 trace or a TF2 profile.

Two ways TensorFlow reports what each op cost, one per API:

- TF1: ``session.run(..., options=RunOptions(trace_level=FULL_TRACE), run_metadata=meta)`` fills
  ``meta.step_stats`` with every node that ran, its op and its start and end times (the data behind the
  lecture era's ``timeline.Timeline`` Chrome traces). :func:`from_step_stats` sums them by op type.
- TF2: ``tf.profiler.experimental.start(logdir)`` ... ``stop()`` records a trace (an ``XSpace`` protocol
  buffer, ``*.xplane.pb``, which TensorBoard's profile plugin shows). Each op that ran on a TensorFlow
  thread is an event named ``"name:OpType"``. :func:`from_trace` reads the newest trace under a folder
  and sums the ops' *self* time by op type (an op's time minus that of ops nested in it, such as the
  body of a function call), and :func:`profile` records one around a function.

Both give an :class:`OpProfile`: total microseconds and executions per op type over ``steps`` steps.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

__all__ = ["OpProfile", "from_step_stats", "from_trace", "profile"]

#: an op event of a TF2 trace: "name:OpType" (TensorFlow's own events look like "ExecutorState::Process",
#: or "EagerLocalExecute: __inference_step_24" on the Python thread)
_OP_EVENT = re.compile(r"^([^\s:]+):([A-Za-z_][A-Za-z0-9_]*)$")
#: a node's timeline label in TF1 step stats: "name = OpType(inputs)"
_TIMELINE_LABEL = re.compile(r"^\S+ = ([A-Za-z_][A-Za-z0-9_]*)\(")


@dataclasses.dataclass
class OpProfile:
    """Time per op type over ``steps`` steps: ``micros[op_type]`` (total) and ``counts[op_type]``."""

    steps: int
    micros: dict[str, float]
    counts: dict[str, int]

    @property
    def total_micros(self) -> float:
        return sum(self.micros.values())

    def ms_per_step(self) -> dict[str, float]:
        """Milliseconds per step for each op type, the most expensive first."""
        order = sorted(self.micros, key=lambda op: (-self.micros[op], op))
        return {op: self.micros[op] / 1000 / max(self.steps, 1) for op in order}

    def shares(self) -> dict[str, float]:
        """Each op type's share of the ops' time (0..1), the most expensive first."""
        total = self.total_micros or 1.0
        return {op: self.micros[op] / total for op in self.ms_per_step()}

    def table(self, top: int = 8) -> str:
        """The ``top`` op types by time: ms per step, share, executions per step; the rest as one line."""
        lines = [f"{'op type':28s} {'ms/step':>8s} {'share':>6s} {'runs/step':>9s}"]
        per_step, shares = self.ms_per_step(), self.shares()
        for op in list(per_step)[:top]:
            lines.append(
                f"{op[:28]:28s} {per_step[op]:8.3f} {shares[op]:6.1%} {self.counts[op] / max(self.steps, 1):9.1f}"
            )
        rest = list(per_step)[top:]
        if rest:
            lines.append(
                f"{f'{len(rest)} other op types':28s} {sum(per_step[op] for op in rest):8.3f} "
                f"{sum(shares[op] for op in rest):6.1%}"
            )
        lines.append(f"{'all ops':28s} {self.total_micros / 1000 / max(self.steps, 1):8.3f}")
        return "\n".join(lines)


def from_step_stats(run_metadata, steps: int | None = None) -> OpProfile:
    """Sum TF1 step stats by op type: each node's op time (``op_start_rel_micros`` to ``op_end_rel_micros``).

    ``run_metadata``: the ``RunMetadata`` of one traced ``session.run``, or a list of them (one per step);
    ``steps`` defaults to how many were given."""
    traced = list(run_metadata) if isinstance(run_metadata, (list, tuple)) else [run_metadata]
    micros: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for metadata in traced:
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                match = _TIMELINE_LABEL.match(node.timeline_label)
                if not match:  # a node without an op label ("name = OpType(...)"): nothing to count
                    continue
                micros[match[1]] += node.op_end_rel_micros - node.op_start_rel_micros
                counts[match[1]] += 1
    return OpProfile(len(traced) if steps is None else steps, dict(micros), dict(counts))


def _xspace(path: Path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(path.read_bytes())
    return space


def from_trace(logdir: str | Path, steps: int = 1) -> OpProfile:
    """Sum the newest TF2 profiler trace under ``logdir`` by op type: each op event's self time (its
    duration minus that of the op events nested in it on the same thread). Raises FileNotFoundError
    when ``logdir`` holds no trace."""
    traces = sorted(Path(logdir).rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    if not traces:
        raise FileNotFoundError(
            f"no profiler trace (*.xplane.pb) under {logdir}; record one with cs20lib.profiling.profile"
        )
    micros: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for plane in _xspace(traces[-1]).planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            events = []
            for event in line.events:
                match = _OP_EVENT.match(names.get(event.metadata_id, ""))
                if match:
                    events.append((event.offset_ps, event.offset_ps + event.duration_ps, match[2]))
            events.sort(key=lambda e: (e[0], -e[1]))
            open_events: list[list] = []  # [end, op, nested time] of the events that contain the current one
            for start, end, op in events:
                while open_events and open_events[-1][0] <= start:
                    _close(open_events.pop(), micros)
                if open_events:
                    open_events[-1][2] += end - start
                open_events.append([end, op, 0, end - start])
                counts[op] += 1
            while open_events:
                _close(open_events.pop(), micros)
    return OpProfile(steps, {op: ps / 1e6 for op, ps in micros.items()}, dict(counts))


def _close(event: list, micros: Counter) -> None:
    end, op, nested, duration = event
    micros[op] += max(duration - nested, 0)


def profile(step: Callable[[], object], steps: int, logdir: str | Path, warmup: int = 2) -> OpProfile:
    """Run ``step()`` ``warmup`` times untraced (tracing and first-call costs), then ``steps`` times under
    TensorFlow's profiler writing to ``logdir``; the op time per type of those ``steps`` calls."""
    import tensorflow as tf

    for _ in range(warmup):
        step()
    tf.profiler.experimental.start(str(logdir))
    try:
        for _ in range(steps):
            step()
    finally:
        tf.profiler.experimental.stop()
    return from_trace(logdir, steps)
