"""Progress lines for long commands whose output goes to a log file (xscale.progress)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from xscale.progress import FROM_CACHE, UNTIMED, Progress, TimeLeftColumn


def _run(terminal: bool, every: float) -> str:
    out = io.StringIO()
    with Progress(console=Console(file=out, force_terminal=terminal, width=100), every=every) as bar:
        task = bar.add_task("evaluate", total=4)
        for _ in range(4):
            bar.advance(task)
    return out.getvalue()


def test_a_log_gets_plain_progress_lines():
    lines = [x for x in _run(terminal=False, every=0).splitlines() if x.startswith("evaluate: ")]
    assert lines[0].startswith("evaluate: 1 of 4 (25.0%), 0:00:00 elapsed, about 0:00:00 left")
    assert lines[-1].startswith("evaluate: 4 of 4 (100.0%)") and len(lines) == 4


def test_lines_are_rate_limited_and_a_terminal_gets_the_bar_only():
    assert "elapsed" not in _run(terminal=False, every=3600)
    assert "elapsed" not in _run(terminal=True, every=0)


def test_work_read_back_from_a_cache_is_not_in_the_rate():
    out = io.StringIO()
    with Progress(console=Console(file=out, force_terminal=False, width=100), every=0) as bar:
        task = bar.add_task("evaluate", total=10)
        on_fit = bar.callback(task)
        for _ in range(6):
            on_fit(FROM_CACHE)
        on_fit("fold 1")
    lines = [x for x in out.getvalue().splitlines() if x.startswith("evaluate: ")]
    assert lines[0].startswith("evaluate: 1 of 10 (10.0%), 1 from cache, 0:00:00 elapsed")
    assert "left" not in lines[5], "no rate yet: everything so far came from the cache"
    assert lines[6].startswith("evaluate: 7 of 10 (70.0%), 6 from cache, 0:00:00 elapsed, about 0:00:00 left")


class _Clock:
    """A clock the test moves by hand (``Progress(get_time=...)``)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_left_follows_the_recent_rate_when_work_slows_down():
    """1,200 fits at 1 per second, then 60 at 0.1 per second (a slower model, or a busy machine):
    the estimate uses the recent rate (the last quarter of the run, 450 s here: 1,740 fits left at
    0.1/s = 4:50:00). A whole-run average (1,260 fits in 1,800 s) would say 0:41:26."""
    out, clock = io.StringIO(), _Clock()
    with Progress(TimeLeftColumn(), console=Console(file=out, force_terminal=False, width=100), every=0,
                  get_time=clock, auto_refresh=False) as bar:
        task = bar.add_task("evaluate", total=3000)
        for _ in range(1200):
            clock.now += 1.0
            bar.advance(task)
        assert bar.time_left(task) == pytest.approx(1800.0)
        for _ in range(60):
            clock.now += 10.0
            bar.advance(task)
        assert bar.time_left(task) == pytest.approx(17400.0)
        assert str(bar.columns[0].render(bar.tasks[0])) == "about 4:50:00 left"
        clock.now += 60.0  # a minute without a fit: the rate falls (41 fits since 1,390 s), the estimate grows
        assert bar.time_left(task) == pytest.approx(1740 * 470 / 41)
        assert len(bar._marks[task]) <= 50, "only the marks of the recent stretch are kept"
    lines = [x for x in out.getvalue().splitlines() if x.startswith("evaluate: ")]
    assert lines[-1] == "evaluate: 1,260 of 3,000 (42.0%), 0:30:00 elapsed, about 4:50:00 left"


def test_a_batch_that_ends_at_once_is_one_mark_and_a_long_run_looks_back_ten_minutes():
    clock = _Clock()
    with Progress(console=Console(file=io.StringIO(), force_terminal=False), every=3600, get_time=clock,
                  auto_refresh=False) as bar:
        task = bar.add_task("evaluate", total=100_000)
        for _ in range(250):  # a batch of 128 fits every 20 s for 4,000 s, then one fit every 20 s for 1,000 s
            clock.now += 20.0
            for _ in range(128 if clock.now <= 4000 else 1):
                bar.advance(task)
        assert len(bar._marks[task]) <= 32, "one mark per batch, those of the last 600 s (and one before)"
        # the last 600 s (a quarter of the run would be 1,250 s): 30 fits, 1 per 20 s
        assert bar.time_left(task) == pytest.approx((100_000 - 25_650) * 20.0)


def test_no_estimate_before_a_fit_is_computed_or_without_a_total():
    clock = _Clock()
    with Progress(TimeLeftColumn(), console=Console(file=io.StringIO(), force_terminal=False), every=0,
                  get_time=clock, auto_refresh=False) as bar:
        sized, unsized = bar.add_task("a", total=10), bar.add_task("b", total=None)
        assert bar.time_left(sized) is None and str(bar.columns[0].render(bar.tasks[0])) == "-:--:--"
        clock.now += 5.0
        bar.advance(sized, cached=True)
        bar.advance(unsized)
        assert bar.time_left(sized) is None and bar.time_left(unsized) is None


def test_the_real_maps_fits_one_by_one_are_not_in_the_rate():
    """An evaluation's first fits are those of the real map, one at a time (4.4 s each in a
    walkthrough), then the null refits come in batches of 128 (17 s a batch, 0.13 s a fit). Timed
    like the rest, the 5 real fits made the estimate 1:50:02 for a run of 1 min 51 s."""
    clock = _Clock()
    with Progress(TimeLeftColumn(), console=Console(file=io.StringIO(), force_terminal=False), every=3600,
                  get_time=clock, auto_refresh=False) as bar:
        task = bar.add_task("evaluate", total=5 + 3 * 128)
        on_fit = bar.callback(task)
        for _ in range(5):
            clock.now += 4.4
            on_fit(UNTIMED)
        assert bar.time_left(task) is None and str(bar.columns[0].render(bar.tasks[0])) == "-:--:--"
        clock.now += 17.0
        for _ in range(128):
            on_fit("")
        # 128 fits in the 17 s since the last real fit: 256 left at that rate
        assert bar.time_left(task) == pytest.approx(256 * 17.0 / 128)
        assert bar.tasks[0].completed == 133


def test_planned_work_costs_each_kind_at_its_own_recent_cost():
    """Jobs of kinds a (2 s a unit) and b (0.5 s a unit), in the order a, b, a, b, a, b."""
    from xscale.progress import PlannedWork

    clock = _Clock()
    work = PlannedWork(clock, recent=2)
    work.plan([("a", 10), ("b", 10), ("a", 10), ("b", 10), ("a", 5), ("b", 10)])
    assert work.seconds_left() is None, "no cost known before a job has finished"
    clock.now += 20.0
    work.done(0)
    assert work.seconds_left() is None, "b not measured yet: the other kind's cost would say nothing of it"
    clock.now += 5.0
    work.done(1)
    assert work.seconds_left() == pytest.approx(15 * 2.0 + 20 * 0.5)
    clock.now += 12.0  # the next job (a, 10 units: 20 s) has run 12 s: 8 s of it left
    assert work.seconds_left() == pytest.approx(8.0 + 5 * 2.0 + 20 * 0.5)
    clock.now += 30.0  # it overruns: its cost counts down to nothing, never below
    assert work.seconds_left() == pytest.approx(5 * 2.0 + 20 * 0.5)
    work.done(2)  # 42 s for 10 units: a now costs (20 + 42) / 20 units
    assert work.seconds_left() == pytest.approx(5 * 62 / 20 + 20 * 0.5)
    clock.now += 1.0
    work.done(5)  # out of order (several workers): the job's cost is the wall time it added
    clock.now += 1.0
    work.done(3)
    assert work.seconds_left() == pytest.approx(5 * 62 / 20)
    clock.now += 4.0
    work.done(4)
    assert work.seconds_left() == 0.0


def test_progress_takes_the_time_left_from_its_estimator_when_it_has_one():
    clock = _Clock()
    with Progress(TimeLeftColumn(), console=Console(file=io.StringIO(), force_terminal=False), every=3600,
                  get_time=clock, auto_refresh=False) as bar:
        task = bar.add_task("evaluate", total=10)
        estimate = {"left": None}
        bar.estimate_with(task, lambda: estimate["left"])
        clock.now += 1.0
        bar.advance(task)
        clock.now += 1.0
        bar.advance(task)
        assert bar.time_left(task) is None, "the estimator's, not the recent rate's (8 s)"
        assert str(bar.columns[0].render(bar.tasks[0])) == "-:--:--"
        estimate["left"] = 123.0
        assert bar.time_left(task) == 123.0 and str(bar.columns[0].render(bar.tasks[0])) == "about 0:02:03 left"


def test_planned_work_on_several_workers_uses_each_jobs_own_time():
    """On a dask cluster jobs finish out of order and overlap: the time between two finishing says
    nothing about what either cost. Two workers; kinds a (10 s a job) and b (1 s)."""
    from xscale.progress import PlannedWork

    clock = _Clock()
    work = PlannedWork(clock)
    work.plan([("a", 1), ("b", 1), ("a", 1), ("b", 1), ("a", 1), ("b", 1)], parallel=2)
    clock.now += 1.0
    work.done(1, seconds=1.0)  # b finishes first
    clock.now += 9.0
    work.done(0, seconds=10.0)  # then a, 9 s later, after its own 10 s
    # left: jobs 2 (a, under way since 1 s: 1 s to go) and 3 (b, started now: 1 s), then 4 (a) and
    # 5 (b), dealt to whichever worker is free first: 10 + 1 s on one of them
    assert work.seconds_left() == pytest.approx(11.0)
    clock.now += 0.5
    assert work.seconds_left() == pytest.approx(10.5)
    clock.now += 2.5  # jobs 2 and 3 are late: they count down to nothing, the 11 s of 4 and 5 are left
    assert work.seconds_left() == pytest.approx(10.0), "4 on one worker, 5 on the other: 10 s, not (10 + 1) / 2"
    for index in (3, 2, 5):
        work.done(index, seconds=10.0 if index == 2 else 1.0)
    assert work.seconds_left() == pytest.approx(10.0), "one job left: one worker's time, not shared"


def test_planned_work_in_the_tail_is_at_least_the_longest_job_left():
    """Two workers; a (10 s a job) and b (1 s). While one worker runs the b jobs one after another,
    the last a starts on the other: the time left is that a's, not the work left shared by two
    (9 s, where the shared sum said 7)."""
    from xscale.progress import PlannedWork

    clock = _Clock()
    work = PlannedWork(clock)
    work.plan([("a", 1)] + [("b", 1)] * 9 + [("a", 1)] + [("b", 1)] * 4, parallel=2)
    for index in range(1, 10):  # b jobs 1-9 on one worker, one a second; job 10 (a) starts at 9 s
        clock.now += 1.0
        work.done(index, seconds=1.0)
    clock.now += 1.0
    work.done(0, seconds=10.0)  # the first a; the other worker takes job 11 (b)
    # left: job 10 (a) under way for 1 s (9 s to go), jobs 11-14 (b, 4 s on the other worker)
    assert work.seconds_left() == pytest.approx(9.0)
    clock.now += 2.0
    assert work.seconds_left() == pytest.approx(7.0)
    for index in (11, 12, 13, 14):
        work.done(index, seconds=1.0)
    clock.now += 3.0
    assert work.seconds_left() == pytest.approx(4.0), "the a under way since 9 s, 10 s a job, at 15 s"
    clock.now += 10.0
    assert work.seconds_left() == 0.0, "an overrunning job counts down to nothing, never below"
    work.done(10, seconds=16.0)
    assert work.seconds_left() == 0.0
