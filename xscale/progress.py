"""Progress of long commands: rich's live bar in a terminal, a plain line now and then in a log.

A null-model evaluation can run for hours, often with its output sent to a file (``nohup``, a
batch scheduler); rich draws no bar there, so :class:`Progress` then prints one line per task every
``every`` seconds instead. Bar and lines give the same estimate of the time left
(:meth:`Progress.time_left`).
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Callable

import rich.progress
from rich.text import Text

#: Label an ``on_fit`` callback gets for a fit whose result was read back from a cache, not computed.
FROM_CACHE = "from cache"
#: Label for a fit computed at another cost than the bulk of the work (an evaluation's fits of the
#: real map, one at a time, before the null refits run as batches at a fraction of the cost each):
#: it counts as done but not in the rate the time left is estimated from.
UNTIMED = "untimed"


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=int(round(seconds))))


class TimeLeftColumn(rich.progress.ProgressColumn):
    """The bar's ``about 0:12:34 left``: :meth:`Progress.time_left` of the task (``-:--:--`` before
    a rate is known). Only in a :class:`Progress`, which connects it."""

    progress: "Progress | None" = None

    def render(self, task: rich.progress.Task) -> Text:
        left = self.progress.time_left(task.id) if self.progress is not None else None
        return Text("-:--:--" if left is None else f"about {_duration(left)} left", style="progress.remaining")


class Progress(rich.progress.Progress):
    """:class:`rich.progress.Progress` that, on a console that is not a terminal, prints
    ``<description>: <done> of <total> (<percent>), <elapsed> elapsed, about <remaining> left``
    at most every ``every`` seconds.

    The time left is the work left at the rate of the recent past: the last quarter of the time
    since the task started, at least ``min_window`` and at most ``window`` seconds. A whole-run
    average is badly optimistic when the rate falls: an evaluation's models differ in cost (a batch
    of GNN refits against a ridge fit), and a neighbour's job can halve a shared machine's speed
    midway. Units advanced with ``cached=True`` (results read back from a cache when an
    interrupted run resumes) count as done but not in the rate, and the line says how many there were;
    so do units advanced with ``timed=False``, and the rate is measured from the last of those that
    came before the first timed unit (so that an evaluation's first estimate is that of its first
    batch of null refits, not of the real map's fits one by one, which cost about 7 times as much each).

    Parameters
    ----------
    *columns, **kwargs
        As for :class:`rich.progress.Progress` (``get_time`` is its clock); a
        :class:`TimeLeftColumn` among the columns shows :meth:`time_left`.
    every : float
        Seconds between log lines.
    window, min_window : float
        Longest and shortest stretch of recent time (s) the rate is measured over.
    """

    def __init__(self, *columns, every: float = 60.0, window: float = 600.0, min_window: float = 60.0, **kwargs):
        super().__init__(*columns, **kwargs)
        self.every, self.window, self.min_window = every, window, min_window
        self._last_line = self.get_time()
        self._cached: dict[rich.progress.TaskID, float] = {}
        # per task: (time, units computed so far), at most one a second, from the newest before the
        # stretch the rate is measured over; and when the task started
        self._marks: dict[rich.progress.TaskID, deque[tuple[float, float]]] = {}
        self._started: dict[rich.progress.TaskID, float] = {}
        self._untimed_at: dict[rich.progress.TaskID, float] = {}  # last untimed unit before the first timed one
        for column in self.columns:
            if isinstance(column, TimeLeftColumn):
                column.progress = self

    def callback(self, task_id: rich.progress.TaskID) -> Callable[[str], None]:
        """An ``on_fit(label)`` callback: advance ``task_id`` by one, as cached if ``label`` is :data:`FROM_CACHE`,
        untimed if it is :data:`UNTIMED`."""
        return lambda label="": self.advance(task_id, cached=label == FROM_CACHE, timed=label != UNTIMED)

    def cached(self, task_id: rich.progress.TaskID) -> float:
        """Units of ``task_id`` advanced with ``cached=True`` so far."""
        return self._cached.get(task_id, 0)

    def _since(self, task_id: rich.progress.TaskID, now: float) -> float:
        """Start of the stretch the rate is measured over (it only ever moves forward)."""
        return now - min(max(0.25 * (now - self._started[task_id]), self.min_window), self.window)

    def time_left(self, task_id: rich.progress.TaskID) -> float | None:
        """Seconds until ``task_id`` is complete at the recent rate of computed (not cached) units
        (see the class); None without a total or before any unit was computed."""
        task, marks, now = self._tasks[task_id], self._marks.get(task_id), self.get_time()
        if not task.total or not marks or marks[-1][1] == 0:
            return None
        since = self._since(task_id, now)
        t0, c0 = next((m for m in reversed(marks) if m[0] <= since), marks[0])  # newest mark before the stretch
        if marks[-1][1] == c0:
            return None
        rate = (marks[-1][1] - c0) / max(now - t0, 1e-9)
        return max(task.total - task.completed, 0.0) / rate

    def advance(self, task_id: rich.progress.TaskID, advance: float = 1, *, cached: bool = False,
                timed: bool = True) -> None:
        """Advance ``task_id`` by ``advance`` units; ``cached``: they were read back, not computed;
        ``timed=False``: computed, but not to be counted in the rate (see the class)."""
        super().advance(task_id, advance)
        now = self.get_time()
        if cached:
            self._cached[task_id] = self._cached.get(task_id, 0) + advance
        elif not timed:
            if task_id not in self._marks:
                self._untimed_at[task_id] = now
        else:
            if task_id not in self._marks:
                start = self._tasks[task_id].start_time
                start = now if start is None else start
                self._started[task_id] = max(start, self._untimed_at.get(task_id, start))
                self._marks[task_id] = deque([(self._started[task_id], 0.0)])
            marks = self._marks[task_id]
            if len(marks) > 1 and now - marks[-1][0] < 1.0:  # at most a mark a second (a batch ends at once)
                marks[-1] = (marks[-1][0], marks[-1][1] + advance)
            else:
                marks.append((now, marks[-1][1] + advance))
            since = self._since(task_id, now)
            while len(marks) > 2 and marks[1][0] <= since:  # keep the newest mark before the stretch
                marks.popleft()
        if self.console.is_terminal or now - self._last_line < self.every:
            return
        self._last_line = now
        task = self._tasks[task_id]
        done, total, elapsed = task.completed, task.total, task.elapsed or 0.0
        line = f"{task.description}: {done:,.0f}"
        if total:
            line += f" of {total:,.0f} ({done / total:.1%})"
        cached = self._cached.get(task_id, 0)
        if cached:
            line += f", {cached:,.0f} from cache"
        line += f", {_duration(elapsed)} elapsed"
        left = self.time_left(task_id)
        if left is not None:
            line += f", about {_duration(left)} left"
        self.console.print(line)
