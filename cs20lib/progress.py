"""The training report both models print: the lecture's average loss every ``skip_step`` steps.

On a terminal a progress bar runs between the reports; off a terminal (a log file, a pipe) each
report line also says how far training is and how long it will take, so a log stays a few lines long.
A loss that is not finite stops training with :class:`TrainingDivergedError`.
"""

from __future__ import annotations

import sys
import time

import numpy as np

__all__ = ["LossReport", "TrainingDivergedError", "TrainingInterrupted"]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; nothing was saved after the last good checkpoint."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped (Ctrl-C, SIGTERM, a notebook's interrupt); the message names the last checkpoint."""

    @classmethod
    def at(cls, step: int, last_checkpoint: str | None) -> TrainingInterrupted:
        if last_checkpoint is None:
            return cls(f"interrupted at step {step:,}, before the first checkpoint: training again starts over")
        return cls(
            f"interrupted at step {step:,}: the last checkpoint is {last_checkpoint}; train again (the same command, "
            f"or the same cell) to resume from it"
        )


class LossReport:
    """Collects the losses of steps ``start + 1 .. target`` and prints the lecture's line every ``skip_step`` steps.

    ``progress``: True for a progress bar (on standard error), False for none, None for a bar only when
    standard error is a terminal and plain progress figures on the report lines otherwise.
    """

    def __init__(self, start: int, target: int, skip_step: int, *, verbose: bool = True, progress: bool | None = False):
        self.start, self.target, self.skip_step = start, target, skip_step
        self.verbose = verbose
        if progress is None:
            progress = sys.stderr.isatty()
            self.plain_progress = not progress
        else:
            self.plain_progress = False
        self.history: list[tuple[int, float]] = []  # (step, average loss over the steps since the last report)
        self._total, self._count = 0.0, 0
        self._started = time.perf_counter()
        self._bar = None
        if verbose and progress and start < target:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=target, initial=start, unit="step", desc="training", dynamic_ncols=True)

    def add(self, step: int, losses: np.ndarray) -> None:
        """Record the losses of the steps up to global step ``step`` (never across a report step)."""
        self._total += float(np.sum(losses))
        self._count += len(losses)
        if self._bar is not None:
            self._bar.update(len(losses))
            self._bar.set_postfix(loss=f"{float(np.mean(losses)):.2f}", refresh=False)
        if step % self.skip_step == 0 or step == self.target:
            average = self._total / max(self._count, 1)
            self.history.append((step - 1, average))
            self._total, self._count = 0.0, 0
            self._print(f"Average loss at step {step - 1}: {average:5.1f}" + self._figures(step))

    def _figures(self, step: int) -> str:
        if not self.plain_progress:
            return ""
        elapsed = time.perf_counter() - self._started
        rate = (step - self.start) / elapsed if elapsed > 0 else 0.0
        left = (self.target - step) / rate if rate > 0 else 0.0
        return f"   [{step:,}/{self.target:,} steps, {rate:,.0f} steps/s, {_duration(left)} left]"

    def _print(self, line: str) -> None:
        if not self.verbose:
            return
        if self._bar is not None:
            self._bar.write(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def check_finite(losses: np.ndarray, first_step: int, last_checkpoint: str | None, learning_rate: float) -> None:
    """Raise TrainingDivergedError if any of the losses of steps ``first_step ..`` is NaN or infinite."""
    finite = np.isfinite(losses)
    if finite.all():
        return
    bad = int(np.argmin(finite))
    raise TrainingDivergedError(
        f"the loss became {losses[bad]} at step {first_step + bad}; training stopped and nothing was saved after "
        f"the last good checkpoint ({last_checkpoint or 'none yet'}). Lower the learning rate ({learning_rate:g}) "
        f"and train into a new run directory."
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"
