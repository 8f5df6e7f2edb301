"""Progress of long commands: rich's live bar in a terminal, a plain line now and then in a log.

A null-model evaluation can run for hours, often with its output sent to a file (``nohup``, a
batch scheduler); rich draws no bar there, so :class:`Progress` then prints one line per task every
``every`` seconds instead. Bar and lines give the same estimate of the time left
(:meth:`Progress.time_left`).
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from datetime import timedelta
from typing import Callable, Hashable, Sequence

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

    The time left comes from a task's estimator when it has one (:meth:`estimate_with`; ``xscale
    evaluate``'s null refits use :class:`PlannedWork`, which costs each model's batches at their
    own rate). Otherwise it is the work left at the rate of the recent past: the last quarter of the time
    since the task started, at least ``min_window`` and at most ``window`` seconds. A whole-run
    average is badly optimistic when the rate falls: an evaluation's models differ in cost (a batch
    of GNN refits against a ridge fit), and a neighbour's job can halve a shared machine's speed
    midway. Units advanced with ``cached=True`` (results read back from a cache when an
    interrupted run resumes) count as done but not in the rate, and the line says how many there were;
    so do units advanced with ``timed=False``, and the rate is measured from the last of those that
    came before the first timed unit (so that a caller without an estimator gets a first estimate
    from the bulk of the work, not from a different kind of unit first: an evaluation's real-map
    fits, one by one, cost about 7 times a batched null refit each).

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
        self._estimators: dict[rich.progress.TaskID, Callable[[], float | None]] = {}
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

    def estimate_with(self, task_id: rich.progress.TaskID, seconds_left: Callable[[], float | None]) -> None:
        """Take the time left of ``task_id`` from ``seconds_left()`` (e.g. :meth:`PlannedWork.seconds_left`)
        instead of the recent rate; its None shows as not known yet."""
        self._estimators[task_id] = seconds_left

    def time_left(self, task_id: rich.progress.TaskID) -> float | None:
        """Seconds until ``task_id`` is complete: from its estimator if it has one (:meth:`estimate_with`),
        else at the recent rate of computed (not cached) units (see the class); None when not known
        (without a total, before any unit was computed, or as the estimator says)."""
        if task_id in self._estimators:
            return self._estimators[task_id]()
        # a copy of the marks: rich's refresh thread asks while the main thread advances
        task, marks, now = self._tasks[task_id], list(self._marks.get(task_id, ())), self.get_time()
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


class PlannedWork:
    """Time left of a known list of jobs whose kinds differ in cost, from each kind's own recent cost.

    An evaluation's null refits are batches of several streams (model x CV scheme x null family)
    whose cost per fit differs by 10 times or more (a batch of GNN-VAE refits against one of
    ridge), run interleaved (:mod:`xscale.evaluate.nullruns`). The rate of the recent past
    (:class:`Progress`) holds only when the recent past has the mix of what is left; a short run of
    two or three rounds never has it (a walkthrough: 3:17 shown with 14 s left, the window's rate
    set by one expensive batch while cheap ones were left). Here every job left is costed at the
    recent seconds per unit of its own kind (its last ``recent`` jobs' seconds over their units).
    While a kind with jobs left has not been measured there is no estimate: costed at the other
    kinds' rate, a GNN-VAE batch after a ridge one was shown as taking no time at all (0:00:00 left
    with 7 s to go). Run a job of every kind first.

    The jobs run ``parallel`` at a time, in the order of the plan: the first ``parallel`` start at
    :meth:`plan`, and the next one each time one finishes. A job under way counts down from its
    start (never below zero); the jobs waiting are dealt in order to the slot that is free first,
    and the time left is when the last slot is free (list scheduling). With one slot that is the
    sum of the costs left; with several it is their sum shared among the slots while many jobs
    are left, and, in the tail, at least the longest job left, which a shared sum reads too low
    (an expensive batch that started last, beside a few cheap ones).

    A job's cost is the time it took where it ran (``done(index, seconds)``: with several workers,
    the order jobs finish in says nothing about what each cost), or else the time since the
    previous job finished, exact for jobs run one after the other.

    Parameters
    ----------
    clock : callable
        Seconds, monotonic (default :func:`time.monotonic`; a :class:`Progress`'s ``get_time`` in tests).
    recent : int
        Jobs of a kind its cost is measured over.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, recent: int = 3):
        self.clock, self.recent = clock, recent
        self._parallel = 1
        # (jobs left: index -> (kind, units); jobs under way: index -> start time; cost: kind -> its
        # last jobs' (seconds, units); when the last job finished). Read from rich's refresh thread
        # while the main thread updates: replaced whole, in one assignment, never changed in place.
        self._state: tuple[dict[int, tuple[Hashable, float]], dict[int, float],
                           dict[Hashable, tuple[tuple[float, float], ...]], float] = ({}, {}, {}, 0.0)

    def plan(self, jobs: Sequence[tuple[Hashable, float]], parallel: int = 1) -> None:
        """Start: ``jobs`` are ``(kind, units)`` in the order they run (units: fits, say), ``parallel``
        of them at a time."""
        self._parallel = max(1, int(parallel))
        left, now = dict(enumerate(jobs)), self.clock()
        self._state = (left, self._start_next({}, left, now), self._state[2], now)

    def _start_next(self, started: dict[int, float], left: dict, now: float) -> dict[int, float]:
        """``started`` with the first jobs of ``left`` not under way started at ``now``, up to ``parallel``."""
        started = dict(started)
        for index in sorted(left):
            if len(started) >= self._parallel:
                break
            started.setdefault(index, now)
        return started

    def done(self, index: int, seconds: float | None = None) -> None:
        """Job ``index`` of the plan has finished, after ``seconds`` of its own (default: the time
        since the previous job finished)."""
        now = self.clock()
        left, started, costs, last = self._state
        left = dict(left)
        kind, units = left.pop(index)
        cost = now - last if seconds is None else seconds
        costs = {**costs, kind: (*costs.get(kind, ()), (cost, units))[-self.recent:]}
        # a job that ran out of plan order (a worker took it early) was not in ``started``, which is
        # then full: nothing starts in its place
        started = self._start_next({i: t for i, t in started.items() if i != index}, left, now)
        self._state = (left, started, costs, now)

    def seconds_left(self) -> float | None:
        """Seconds until every job is done; None before a job of every kind left has finished."""
        left, started, measured, _ = self._state
        jobs = sorted(left.items())
        if any(kind not in measured for _, (kind, _) in jobs) or not measured:
            return None
        if not jobs:
            return 0.0
        per_unit = {k: sum(c[0] for c in v) / max(sum(c[1] for c in v), 1e-12) for k, v in measured.items()}
        now = self.clock()
        under_way = [max(units * per_unit[kind] - (now - started[i]), 0.0) for i, (kind, units) in jobs if i in started]
        free = under_way + [0.0] * max(self._parallel - len(under_way), 0)  # when each slot is next free
        heapq.heapify(free)
        for i, (kind, units) in jobs:
            if i not in started:
                heapq.heappush(free, heapq.heappop(free) + units * per_unit[kind])
        return max(free)
