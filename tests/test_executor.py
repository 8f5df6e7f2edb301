"""Executors of null refits: the dask one keeps shared data alive across runs."""

from __future__ import annotations

import torch

from xscale import testing
from xscale.evaluate.executor import DaskExecutor, LocalExecutor


def test_dask_runs_reuse_shared_data_without_losing_it():
    """Regression: the same shared objects scattered run after run (one run per model x scheme x
    null family in ``xscale evaluate``) were once lost by the workers ("lost dependencies"). The race
    is timing-dependent; measured: this test failed on the old code (scatter again on every run)."""
    data = testing.real_data()
    dask = DaskExecutor(n_workers=2)
    try:
        for run in range(12):
            shared = {"data": data, "run": run}
            got = dict(dask.run(dict, [{"task": i} for i in range(3)], shared))
            want = dict(LocalExecutor().run(dict, [{"task": i} for i in range(3)], shared))
            assert sorted(got) == [0, 1, 2]
            for i in got:
                assert got[i]["task"] == want[i]["task"] == i and got[i]["run"] == run
                assert torch.equal(got[i]["data"].expression, data.expression)
    finally:
        dask.close()
