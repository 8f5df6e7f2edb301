"""Run abagen 0.1.3 (the latest release) under pandas >= 2 without changing abagen's code.

abagen 0.1.3 calls three pandas APIs that pandas 2.0 / 3.0 removed; the fixes are on abagen's
main branch but unreleased (as of abagen 0.1.3 on PyPI):

* ``DataFrame.set_axis(..., inplace=False)`` in ``probes_.collapse_probes``
  (rmarkello/abagen#213, #225, #239);
* ``DataFrame.groupby(..., axis=1)`` in ``probes_._groupby_structure_id`` (rmarkello/abagen#225);
* ``DataFrame.append`` in ``samples_.groupby_index`` and the ``missing=`` paths of
  ``allen.get_expression_data`` (rmarkello/abagen#232).

:func:`pandas_compat` restores exactly these three call forms, with their pandas 1.x meaning,
for the duration of an abagen call only, and removes them afterwards. Pinning pandas < 2 is not
an option: the rest of xscale (and numpy 2) need pandas >= 2.1. The offline test of
``xscale data build-ahba`` checks abagen's output against values computed by hand, so a silent
behaviour change under these shims would fail it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import pandas as pd


class _ColumnGroupBy:
    """``frame.groupby(by, axis=1)`` as pandas 1.x had it: group columns, results keep rows."""

    def __init__(self, frame: pd.DataFrame, by: Any, kwargs: dict[str, Any]):
        self._grouped = frame.T.groupby(by, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._grouped, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: attr(*args, **kwargs).T


@contextmanager
def pandas_compat() -> Iterator[None]:
    """Within the block, pandas accepts the three removed call forms abagen 0.1.3 uses.

    Only the removed forms are added: ``append`` where pandas has none, and ``inplace=False`` /
    ``axis=1`` keywords, which are otherwise passed on unchanged. Not thread-safe (it patches
    the ``pandas.DataFrame`` class); abagen is called from one thread.
    """
    frame = pd.DataFrame
    saved = {name: frame.__dict__.get(name) for name in ("append", "set_axis", "groupby")}
    set_axis, groupby = frame.set_axis, frame.groupby

    def append(self, other, ignore_index=False, verify_integrity=False, sort=False):
        return pd.concat([self, other], ignore_index=ignore_index, verify_integrity=verify_integrity, sort=sort)

    def set_axis_compat(self, labels, *, axis=0, inplace=False, **kwargs):
        if inplace:
            raise NotImplementedError("xscale's abagen shim supports set_axis(inplace=False) only")
        return set_axis(self, labels, axis=axis, **kwargs)

    def groupby_compat(self, *args, axis=0, **kwargs):
        if axis in (1, "columns"):
            by = args[0] if args else kwargs.pop("by")
            return _ColumnGroupBy(self, by, kwargs)
        return groupby(self, *args, **kwargs)

    if saved["append"] is None:
        frame.append = append
    frame.set_axis = set_axis_compat
    frame.groupby = groupby_compat
    try:
        yield
    finally:
        for name, original in saved.items():
            if original is None:
                if name in frame.__dict__:
                    delattr(frame, name)
            else:
                setattr(frame, name, original)
