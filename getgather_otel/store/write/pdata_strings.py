"""Attribute values as the strings the OTel Collector's ClickHouse exporter stores: pdata `Value.AsString()`.

The exporter turns every attribute value into text with `pcommon.Value.AsString()`
(opentelemetry-collector, `pdata/pcommon/value.go`); both our write paths (SDK spans in
process, OTLP protobuf in `collect`) call `attribute_value_to_string` so one span is the same
text in DuckDB and in ClickHouse, and one filter finds the same rows in both. The rules:

- strings as they are; booleans `true`/`false`; integers in decimal;
- floats as ECMAScript prints numbers (Go's `float64AsString`): shortest round-trip digits,
  fixed notation for 1e-6 <= |x| < 1e21 (`1`, `0.00001`, `10000000000000000`), exponent
  notation outside it without a leading zero in a negative exponent (`1.5e-7`, `1e+21`),
  `NaN`, `Infinity`, `-Infinity`;
- bytes as standard base64; a missing (empty) value as '';
- arrays and maps as compact JSON (Go's `encoding/json` with HTML escaping off): map keys
  sorted, UTF-8 kept, `<>&` kept, control characters escaped (`\\n`, `\\u001b`), U+2028 and
  U+2029 escaped, bytes inside as base64 strings, floats inside written as above. Go's
  encoder refuses NaN and infinities, and AsString then returns '' for the whole value.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["attribute_value_to_string", "float_as_string"]


def float_as_string(value: float) -> str:
    """A float as pdata writes it (ES6 number to string)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(value)  # shortest digits, already in exponent form in this range
        mantissa, _, exponent = text.partition("e")
        if exponent.startswith("-0") and len(exponent) == 3:  # Go: e-07 -> e-7
            exponent = "-" + exponent[2]
        return f"{mantissa}e{exponent}"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return format(Decimal(repr(value)).normalize(), "f")


class _NotJsonError(ValueError):
    """A value Go's encoding/json refuses (NaN, infinities): AsString gives ''."""


def _json_text(value: Any) -> str:
    """`json.Marshal(value.AsRaw())` with HTML escaping off, for one value (recursive)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _NotJsonError
        return float_as_string(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return '"' + base64.b64encode(bytes(value)).decode("ascii") + '"'
    if isinstance(value, Mapping):
        keys = sorted(str(key) for key in value)
        items = {str(key): item for key, item in value.items()}
        return "{" + ",".join(f"{_json_text(key)}:{_json_text(items[key])}" for key in keys) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    return _json_text(str(value))


def _json(value: Any) -> str:
    try:
        return _json_text(value)
    except _NotJsonError:
        return ""


def attribute_value_to_string(value: Any) -> str:
    """An attribute value (SDK value, or a decoded OTLP AnyValue) as the ClickHouse exporter stores it."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, float):
        return float_as_string(value)  # NaN and infinities too: only JSON refuses them
    if isinstance(value, (bool, int)):
        return _json_text(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (Mapping, Sequence)):
        return _json(value)
    return str(value)
