"""Executors of null refits: the dask one keeps shared data alive across runs."""

from __future__ import annotations

import logging
import os

import dask
import torch

from xscale import testing
from xscale.evaluate.executor import MALLOC_TRIM, DaskExecutor, LocalExecutor


def test_dask_runs_reuse_shared_data_without_losing_it():
    """Regression: the same shared objects scattered run after run (one run per model x scheme x
    null family in ``xscale evaluate``) were once lost by the workers ("lost dependencies"). The race
    is timing-dependent; measured: this test failed on the old code (scatter again on every run)."""
    data = testing.real_data()
    dask = DaskExecutor(n_workers=2)
    try:
        assert (dask.slots(), LocalExecutor().slots()) == (2, 1), "tasks at once, for the time left"
        for run in range(12):
            shared = {"data": data, "run": run}
            got = dict(dask.run(dict, [({"task": i}, shared) for i in range(3)]))
            want = dict(LocalExecutor().run(dict, [({"task": i}, shared) for i in range(3)]))
            assert sorted(got) == [0, 1, 2]
            for i in got:
                assert got[i]["task"] == want[i]["task"] == i and got[i]["run"] == run
                assert torch.equal(got[i]["data"].expression, data.expression)
    finally:
        dask.close()


def test_local_cluster_workers_keep_glibc_adaptive_mmap(caplog):
    """dask's default MALLOC_TRIM_THRESHOLD_ made batched refits 4x slower in its workers: the
    LocalCluster is started without it; workers that have it (a remote cluster) get a warning."""
    dask_ex = DaskExecutor(n_workers=1)
    try:
        assert list(dask_ex.client.run(os.environ.get, MALLOC_TRIM).values()) == [None]
        assert "pre-spawn-environ" not in caplog.text
    finally:
        dask_ex.close()
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 65536}):
        from dask.distributed import LocalCluster

        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with caplog.at_level(logging.WARNING, logger="xscale.evaluate.executor"):
            remote = DaskExecutor(address=cluster.scheduler_address)
            remote.close()
        assert f"{MALLOC_TRIM} set" in caplog.text and "pre-spawn-environ" in caplog.text
    finally:
        cluster.close()


def test_dask_logs_follow_the_root_loggers_level():
    """distributed sets its loggers to INFO on import; a LocalCluster's start and shutdown printed
    about 35 lines of them into `xscale evaluate --executor dask` (a walkthrough's finding)."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.WARNING)
    try:
        dask_ex = DaskExecutor(n_workers=1)
        dask_ex.close()
        assert logging.getLogger("distributed").level == logging.WARNING
        assert logging.getLogger("distributed.scheduler").getEffectiveLevel() >= logging.WARNING
    finally:
        root.setLevel(before)


def test_an_unreachable_scheduler_is_named_with_what_to_check(monkeypatch):
    """A walkthrough's finding: `--scheduler` at an address where nothing listens waited out the
    connect timeout, then said only that it timed out."""
    import pytest

    from xscale.errors import ConfigError
    from xscale.evaluate import executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 1)
    with pytest.raises(ConfigError, match=r"cannot reach the dask scheduler at 'tcp://127.0.0.1:1'.*"
                                          r"is a scheduler running there.*LocalCluster"):
        DaskExecutor(address="tcp://127.0.0.1:1")
