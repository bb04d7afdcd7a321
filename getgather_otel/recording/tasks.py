"""Background tasks of the recorder, kept referenced until they finish.

asyncio holds only weak references to running tasks, so a task nobody keeps can be
garbage-collected mid-way (the `RUF006` lint). The recorder's sessions, pages and contexts
each start fire-and-forget work (binding calls, checkpoints, drains): they share this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["BackgroundTasks"]

T = TypeVar("T")


class BackgroundTasks:
    """A set of running tasks; `spawn` starts one and keeps it until it is done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
