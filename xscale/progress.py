"""Progress of long commands: rich's live bar in a terminal, a plain line now and then in a log.

A null-model evaluation can run for hours, often with its output sent to a file (``nohup``, a
batch scheduler); rich draws no bar there, so :class:`Progress` then prints one line per task every
``every`` seconds instead.
"""

from __future__ import annotations

import time
from datetime import timedelta

import rich.progress


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=int(round(seconds))))


class Progress(rich.progress.Progress):
    """:class:`rich.progress.Progress` that, on a console that is not a terminal, prints
    ``<description>: <done> of <total> (<percent>), <elapsed> elapsed, about <remaining> left``
    at most every ``every`` seconds (remaining time extrapolated from the average so far).

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

    def advance(self, task_id: rich.progress.TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        if self.console.is_terminal or time.monotonic() - self._last_line < self.every:
            return
        self._last_line = time.monotonic()
        task = next(t for t in self.tasks if t.id == task_id)
        done, total, elapsed = task.completed, task.total, task.elapsed or 0.0
        line = f"{task.description}: {done:,.0f}"
        if total:
            line += f" of {total:,.0f} ({done / total:.1%})"
        line += f", {_duration(elapsed)} elapsed"
        if total and done:
            line += f", about {_duration(elapsed * (total - done) / done)} left"
        self.console.print(line)
