"""pyarrow's one-time import of pandas, paid when a store starts rather than when it must write.

pyarrow's first `pa.array(...)` call imports pandas when pandas is installed, to check
whether the values are a pandas object (apache/arrow#34994; `pandas-shim.pxi` in pyarrow 26).
chdb depends on pandas, and so do many applications. The import took 1.3-4.4 s of CPU on
the loaded 2-core test machine, and it ran inside the first span export: at exit, a stdio
server whose only spans were exported then spent it inside the shutdown budget (measured
in `tests/test_shutdown.py`: 1.8-3.8 s from stdin closing, against a 0.8 s budget).
Started on a daemon thread when a store is built, it overlaps the server's own start-up;
a process exiting before it ends waits for it only if it has something to write.
"""

from __future__ import annotations

import importlib.util
import sys
import threading

import pyarrow as pa

__all__ = ["warm_up_arrow"]

_lock = threading.Lock()
_thread: threading.Thread | None = None


def warm_up_arrow() -> threading.Thread | None:
    """Make pyarrow's first conversion on a daemon thread, once per process; returns at once.

    The thread, or None when there is nothing to warm: pandas is not installed, or already
    imported (then pyarrow's check costs microseconds).
    """
    global _thread
    with _lock:
        if _thread is not None:
            return _thread
        if "pandas" in sys.modules or importlib.util.find_spec("pandas") is None:
            return None
        _thread = threading.Thread(target=_convert_once, name="getgather-otel-arrow-warmup", daemon=True)
        _thread.start()
        return _thread


def _convert_once() -> None:
    pa.array([], pa.string())
