"""Fixtures for every test under tests/ and plugins/ (pytest's testpaths)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees idle cores: the commands warn when other processes keep the cores busy
    (xscale.machine), which on a busy CI machine would change outputs that tests compare, and
    sampling the cores costs half a second. tests/test_machine.py sets its own."""
    from xscale import machine

    monkeypatch.setattr(machine, "busy_cores", lambda interval=machine.INTERVAL: 0.0)
