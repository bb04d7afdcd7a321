"""OTLP/HTTP request bodies in, parsed Export*ServiceRequests out, every malformed input turned into a clear error.

Bodies come as protobuf (`application/x-protobuf`) or JSON (`application/json`, where
OTLP writes trace and span ids as hex, not protobuf JSON's base64), optionally gzip
compressed. The signal modules (`otlp_traces`, `otlp_logs`, `otlp_metrics`) turn the
parsed requests into rows and share the attribute and id helpers here.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = [
    "JSON",
    "PROTOBUF",
    "DecodedRows",
    "RequestError",
    "RequestT",
    "attribute_value",
    "attributes_of",
    "decompress",
    "hex_id",
    "media_type",
    "parse_request",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
RequestT = TypeVar("RequestT", bound=Message)


@dataclass(frozen=True)
class DecodedRows:
    """One signal's rows from a request, and what was rejected (the partial-success answer)."""

    table: pa.Table
    rejected: int
    first_problem: str


class RequestError(ValueError):
    """A request the receiver cannot use; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, or a 415 for anything OTLP/HTTP does not use."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise RequestError(415, f"Content-Type must be {PROTOBUF} or {JSON}, not {content_type or 'missing'!r}")
    return media


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """The request body without its Content-Encoding, refusing to inflate past `max_bytes` (gzip bombs)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding != "gzip":
        raise RequestError(415, f"Content-Encoding {encoding!r} is not supported (use gzip or none)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise RequestError(400, f"the gzip body is corrupt: {error}") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise RequestError(413, f"the body inflates to more than {max_bytes} bytes")
    if not inflater.eof:
        raise RequestError(400, "the gzip body is truncated")
    return data


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON parser wants base64 for bytes fields."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    out[key] = base64.b64encode(bytes.fromhex(value)).decode() if value else ""
                except ValueError:
                    raise RequestError(400, f"{key} {value[:40]!r} is not hex") from None
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def parse_request(body: bytes, media: str, request: RequestT) -> RequestT:
    """Fill `request` (an empty Export*ServiceRequest) from a protobuf or OTLP/JSON body, or a 400."""
    kind = type(request).__name__
    if media == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError) as error:
            raise RequestError(400, f"the body is not an OTLP {kind}: {error}") from None
        return request
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RequestError(400, f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RequestError(400, f"the JSON body must be an object (an OTLP {kind})")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as error:
        raise RequestError(400, f"the JSON body is not an OTLP {kind}: {error}") from None
    return request


def attribute_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "array_value":
        items = [attribute_value(v) for v in value.array_value.values]
        # SDK attribute sequences are homogeneous primitives; anything else travels as JSON text.
        if items and all(isinstance(i, type(items[0])) and isinstance(i, str | bool | int | float) for i in items):
            return tuple(items)
        return json.dumps(items, default=str)
    if kind == "kvlist_value":
        return json.dumps({kv.key: attribute_value(kv.value) for kv in value.kvlist_value.values}, default=str)
    return ""


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {kv.key: attribute_value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def hex_id(raw: bytes, size: int) -> str | None:
    """Lower-case hex of a valid trace or span id (`size` bytes, not all zero), else None."""
    if len(raw) != size or not any(raw):
        return None
    return raw.hex()
