"""Progress of long store operations (prune, export, import): one line at a time to a callback.

The CLI prints the lines and the background retention job logs them; without a callback
they go nowhere.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "quiet"]

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """The default progress callback: drops the line."""
    return None
