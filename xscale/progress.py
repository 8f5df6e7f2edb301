"""Progress of long commands: rich's live bar in a terminal, a plain line now and then in a log.

A null-model evaluation can run for hours, often with its output sent to a file (``nohup``, a
batch scheduler); rich draws no bar there, so :class:`Progress` then prints one line per task every
``every`` seconds instead.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Callable

import rich.progress

#: Label an ``on_fit`` callback gets for a fit whose result was read back from a cache, not computed.
FROM_CACHE = "from cache"


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=int(round(seconds))))


class Progress(rich.progress.Progress):
    """:class:`rich.progress.Progress` that, on a console that is not a terminal, prints
    ``<description>: <done> of <total> (<percent>), <elapsed> elapsed, about <remaining> left``
    at most every ``every`` seconds.

    The remaining time is extrapolated from the average so far over the work done in this run:
    units advanced with ``cached=True`` (results read back from a cache when an interrupted run
    resumes) count as done but not in the rate, and the line says how many there were.

    Parameters
    ----------
    *columns, **kwargs
        As for :class:`rich.progress.Progress`.
    every : float
        Seconds between log lines.
    """

    def __init__(self, *columns, every: float = 60.0, **kwargs):
        super().__init__(*columns, **kwargs)
        self.every = every
        self._last_line = time.monotonic()
        self._cached: dict[rich.progress.TaskID, float] = {}

    def callback(self, task_id: rich.progress.TaskID) -> Callable[[str], None]:
        """An ``on_fit(label)`` callback: advance ``task_id`` by one, as cached if ``label`` is :data:`FROM_CACHE`."""
        return lambda label="": self.advance(task_id, cached=label == FROM_CACHE)

    def cached(self, task_id: rich.progress.TaskID) -> float:
        """Units of ``task_id`` advanced with ``cached=True`` so far."""
        return self._cached.get(task_id, 0)

    def advance(self, task_id: rich.progress.TaskID, advance: float = 1, *, cached: bool = False) -> None:
        """Advance ``task_id`` by ``advance`` units; ``cached``: they were read back, not computed."""
        super().advance(task_id, advance)
        if cached:
            self._cached[task_id] = self._cached.get(task_id, 0) + advance
        if self.console.is_terminal or time.monotonic() - self._last_line < self.every:
            return
        self._last_line = time.monotonic()
        task = next(t for t in self.tasks if t.id == task_id)
        done, total, elapsed = task.completed, task.total, task.elapsed or 0.0
        line = f"{task.description}: {done:,.0f}"
        if total:
            line += f" of {total:,.0f} ({done / total:.1%})"
        cached = self._cached.get(task_id, 0)
        if cached:
            line += f", {cached:,.0f} from cache"
        line += f", {_duration(elapsed)} elapsed"
        if total and done > cached:
            line += f", about {_duration(elapsed * (total - done) / (done - cached))} left"
        self.console.print(line)
