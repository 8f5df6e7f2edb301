"""The warning about other busy processes sharing torch's cores (xscale.machine)."""

from __future__ import annotations

import os
import sys
import time

from click.testing import CliRunner

from xscale import cli, machine
from xscale.machine import contention_warning


def test_the_warning_needs_several_threads_busy_cores_and_no_passive_wait_policy():
    said = contention_warning(2, busy=1.8, cores=2, environ={})
    assert said and "keep 1.8 of the 2 cores busy" in said and "OMP_WAIT_POLICY=PASSIVE" in said
    assert contention_warning(2, busy=0.3, cores=2, environ={}) is None, "idle cores"
    assert contention_warning(1, busy=5.0, cores=2, environ={}) is None, "one thread waits for no other"
    assert contention_warning(2, busy=5.0, cores=2, environ={"OMP_WAIT_POLICY": "passive"}) is None
    assert contention_warning(2, busy=5.0, cores=2, environ={"OMP_WAIT_POLICY": "ACTIVE"}) is not None
    assert contention_warning(2, busy=1.8, cores=8, environ={}) is None, "six cores are free"
    assert contention_warning(8, busy=1.8, cores=8, environ={}) is not None, "every core is taken by torch"
    assert "4 threads on 2 cores" in contention_warning(4, busy=0.0, cores=2, environ={})


def test_busy_cores_sees_a_process_that_spins(monkeypatch):
    monkeypatch.undo()  # the real sampler, not the conftest's idle one
    import multiprocessing as mp

    cpu = sorted(os.sched_getaffinity(0))[0]
    spinner = mp.get_context("spawn").Process(target=_spin, args=(cpu,), daemon=True)
    spinner.start()
    try:
        time.sleep(0.5)
        seen = machine.busy_cores(interval=0.5)
    finally:
        spinner.terminate()
    assert seen is not None and seen >= 0.8, f"one core spinning, {seen} seen busy"


def _spin(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    while True:
        pass


def test_evaluate_warns_with_the_local_executor_only(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(machine, "busy_cores", lambda interval=0.5: 1.9)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # 2 cores, whatever this machine has
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(sys, "argv", ["xscale"])
    args = ["evaluate", "--target", "enigma:bd", "--models", "pls1", "--cv", "in-sample", "--nulls", "spin-vasa",
            "--n-null", "2"]
    for executor, warned in [("local", True), ("dask", False)]:
        res = CliRunner().invoke(cli.main, [*args, "--executor", executor, "--out", str(tmp_path / executor)])
        assert res.exit_code == 0, res.output
        said = " ".join(res.output.split())
        assert ("keep 1.9 of the 2 cores busy" in said and "--executor dask" in said) is warned, said
