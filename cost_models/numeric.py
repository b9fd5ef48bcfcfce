"""The two numeric conventions every cost function shares: what counts as a scalar, and how a
result is returned (a Python float for scalar input, else a numpy array)."""

from __future__ import annotations

import numpy as np

#: Types that take a cost function's plain-float fast path.
SCALARS = (int, float, np.integer, np.floating)


def as_output(x: object) -> np.ndarray | float:
    """``x`` as a Python float if it is a scalar or a 0-d array, else as a float64 array."""
    if isinstance(x, float):
        return x
    a = np.asarray(x, dtype=np.float64)
    return float(a) if a.ndim == 0 else a
