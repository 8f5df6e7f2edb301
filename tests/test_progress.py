"""Progress lines for long commands whose output goes to a log file (xscale.progress)."""

from __future__ import annotations

import io

from rich.console import Console

from xscale.progress import Progress


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
