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
