"""The warning about other busy processes sharing torch's cores (xscale.machine)."""

from __future__ import annotations

import os
import sys

from click.testing import CliRunner

from xscale import cli
from xscale.machine import contention_warning


def test_the_warning_needs_several_threads_a_busy_machine_and_no_wait_policy():
    said = contention_warning(2, load=1.8, cores=2, environ={})
    assert said and "load average is 1.8 on 2 cores" in said and "OMP_NUM_THREADS=1" in said
    assert contention_warning(2, load=0.3, cores=2, environ={}) is None, "an idle machine"
    assert contention_warning(1, load=5.0, cores=2, environ={}) is None, "one thread waits for no other"
    assert contention_warning(2, load=5.0, cores=2, environ={"OMP_WAIT_POLICY": "PASSIVE"}) is None
    assert contention_warning(2, load=1.8, cores=8, environ={}) is None, "six cores are free"
    assert contention_warning(8, load=1.8, cores=8, environ={}) is not None, "every core is taken by torch"


def test_evaluate_warns_with_the_local_executor_only(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # over the conftest's idle machine
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(sys, "argv", ["xscale"])
    args = ["evaluate", "--target", "enigma:bd", "--models", "pls1", "--cv", "in-sample", "--nulls", "spin-vasa",
            "--n-null", "2"]
    for executor, warned in [("local", True), ("dask", False)]:
        res = CliRunner().invoke(cli.main, [*args, "--executor", executor, "--out", str(tmp_path / executor)])
        assert res.exit_code == 0, res.output
        said = " ".join(res.output.split())
        assert ("load average is 9.0" in said and "--executor dask" in said) is warned, said
