"""rrweb's event type numbers (`EventType` in rrweb's types), named once for every module that reads events."""

from typing import Final

__all__ = [
    "ALL_TYPES",
    "CUSTOM",
    "DOM_CONTENT_LOADED",
    "FULL_SNAPSHOT",
    "INCREMENTAL_SNAPSHOT",
    "LOAD",
    "META",
    "PLUGIN",
]

DOM_CONTENT_LOADED: Final = 0
LOAD: Final = 1
FULL_SNAPSHOT: Final = 2
INCREMENTAL_SNAPSHOT: Final = 3
META: Final = 4
CUSTOM: Final = 5
PLUGIN: Final = 6
ALL_TYPES: Final = frozenset(range(7))
