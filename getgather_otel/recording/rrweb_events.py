"""rrweb's event type numbers (`EventType` in rrweb's types) and the incremental sources read here
(`IncrementalSource`), named once for every module that reads events."""

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
    "SOURCE_ADOPTED_STYLE_SHEET",
    "SOURCE_INPUT",
    "SOURCE_MUTATION",
    "SOURCE_STYLE_DECLARATION",
    "SOURCE_STYLE_SHEET_RULE",
]

DOM_CONTENT_LOADED: Final = 0
LOAD: Final = 1
FULL_SNAPSHOT: Final = 2
INCREMENTAL_SNAPSHOT: Final = 3
META: Final = 4
CUSTOM: Final = 5
PLUGIN: Final = 6
ALL_TYPES: Final = frozenset(range(7))

# `data.source` of an INCREMENTAL_SNAPSHOT event.
SOURCE_MUTATION: Final = 0
SOURCE_INPUT: Final = 5
SOURCE_STYLE_SHEET_RULE: Final = 8
SOURCE_STYLE_DECLARATION: Final = 13
SOURCE_ADOPTED_STYLE_SHEET: Final = 15
