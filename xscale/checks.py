"""Small argument checks for plugin constructors: a bad hyperparameter fails before training."""

from __future__ import annotations


def require(owner: str, name: str, value: float, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> None:
    """Raise ValueError unless ``low <= value <= high`` (strict where ``*_open``).

    Parameters
    ----------
    owner : str
        Class or function name for the message, e.g. ``"AdamBackend"``.
    name : str
        Hyperparameter name.
    value : number
    low, high : number, optional
        Bounds; None leaves that side unbounded.
    low_open, high_open : bool
        Exclude the bound itself.
    """
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + str(low)
        hi = "inf)" if high is None else str(high) + (")" if high_open else "]")
        raise ValueError(f"{owner}: {name}={value!r} is outside {lo}, {hi}")
