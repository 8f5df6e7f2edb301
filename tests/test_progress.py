"""Progress lines for long commands whose output goes to a log file (xscale.progress)."""

from __future__ import annotations

import io

from rich.console import Console

from xscale.progress import FROM_CACHE, Progress


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
