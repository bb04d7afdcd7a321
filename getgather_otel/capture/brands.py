"""Which brand (website) and kind a tool call belongs to.

getgather names tools `<brand>_<action>` (often by mounting one sub-server per brand
under its namespace) and marks brand-independent tools with the `general_tool` tag.
Explicit declarations win over naming conventions: a `brand:<id>` tag or `brand_id` in
the tool's meta, then `general_tool` (no brand), then, only when the server opted in
with `brand_from_prefix=True`, the part of the name before the first underscore.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from getgather_otel.capture import attributes as attr

__all__ = [
    "AUTH_TOOL_TAGS",
    "BRAND_TAG_PREFIX",
    "GENERAL_TOOL_TAG",
    "KIND_TAG_PREFIX",
    "BrandResolver",
    "activity_kind",
    "brand_from_name",
    "declared_brand",
    "default_brand_resolver",
    "tool_meta",
    "tool_tags",
]

BrandResolver = Callable[[str, Any], str]

GENERAL_TOOL_TAG = "general_tool"
AUTH_TOOL_TAGS = frozenset({"auth", "auth_tool"})
BRAND_TAG_PREFIX = "brand:"
KIND_TAG_PREFIX = "kind:"


def tool_tags(tool: Any) -> frozenset[str]:
    tags = getattr(tool, "tags", None)
    return frozenset(str(t) for t in tags) if tags else frozenset()


def tool_meta(tool: Any) -> Mapping[str, Any]:
    meta = getattr(tool, "meta", None)
    return meta if isinstance(meta, Mapping) else {}


def declared_brand(tags: Collection[str], meta: Mapping[str, Any]) -> str | None:
    """The brand a tool declares about itself, '' for general tools, None if it says nothing."""
    for tag in sorted(tags):
        if tag.startswith(BRAND_TAG_PREFIX) and len(tag) > len(BRAND_TAG_PREFIX):
            return tag[len(BRAND_TAG_PREFIX) :]
    brand = meta.get("brand_id")
    if isinstance(brand, str) and brand:
        return brand
    if GENERAL_TOOL_TAG in tags:
        return ""
    return None


def brand_from_name(tool_name: str) -> str:
    """getgather convention: `netflix_get_history` -> `netflix` ('' without an underscore)."""
    prefix, sep, _ = tool_name.partition("_")
    return prefix if sep and prefix else ""


def default_brand_resolver(brand_from_prefix: bool = False) -> BrandResolver:
    """The resolver `instrument_mcp` uses when none is given (see module docstring).

    Args:
        brand_from_prefix: when a tool declares no brand (tag `brand:X` or meta), take the
            part of its name before the first `_` (`netflix_get_history` -> `netflix`).

    Returns a function (tool name, FastMCP tool) -> brand id ("" for none).
    """

    def resolve(tool_name: str, tool: Any) -> str:
        declared = declared_brand(tool_tags(tool), tool_meta(tool))
        if declared is not None:
            return declared
        return brand_from_name(tool_name) if brand_from_prefix else ""

    return resolve


def activity_kind(tool: Any) -> str:
    """`kind:<k>` tag, else auth-tagged tools are `auth`, general tools `general`, else `tool`."""
    tags = tool_tags(tool)
    for tag in tags:
        if tag.startswith(KIND_TAG_PREFIX) and tag[len(KIND_TAG_PREFIX) :] in attr.ACTIVITY_KINDS:
            return tag[len(KIND_TAG_PREFIX) :]
    if tags & AUTH_TOOL_TAGS:
        return attr.KIND_AUTH
    if GENERAL_TOOL_TAG in tags:
        return attr.KIND_GENERAL
    return attr.KIND_TOOL
