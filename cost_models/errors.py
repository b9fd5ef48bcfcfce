"""The project's error type for bad input.

Every invalid config value, unknown preset name, corrupt or missing data file raises
:class:`EdgeRouteError` (a ``ValueError``) whose message names the bad value and what is
allowed. The CLI catches it and exits non-zero with the message and no traceback. It lives in
``cost_models`` because that package imports nothing else from the project, so every other
package may import it without a cycle.
"""

from __future__ import annotations


class EdgeRouteError(ValueError):
    """Bad input to edgeroute: the message says which value and what is allowed."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`EdgeRouteError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise EdgeRouteError(message)
