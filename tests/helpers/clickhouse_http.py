"""ClickHouse's HTTP interface over chdb, for loopback tests of the clickhouse-connect engine.

No ClickHouse server can be installed here (no registry this machine reaches packages one);
chdb is ClickHouse's own engine in process. `ChdbHttpServer` serves, on 127.0.0.1 at an
ephemeral port, the part of ClickHouse's HTTP interface that clickhouse-connect's HTTP
client (1.12: driver/_backend/http_sync.py, httpcommon.py, orchestration.py) sends and
reads, so `ClickHouseServer` runs its real client, binding, Native decoding and error
paths against a real ClickHouse engine.

Served:
- `POST /` and `GET /` with the statement in the body, in the `query` parameter (joined to a
  body by a newline, as ClickHouse does for INSERT data) or in multipart/form-data fields
  (`query` and `param_*`: clickhouse-connect moves bound parameters there past 4 KB). A GET
  runs with readonly=2, as on ClickHouse. `GET /ping` and a bare `GET /` answer `Ok.`.
- `param_<name>` bound server-side to `{name:Type}` (chdb parses the same text ClickHouse does).
- Every other parameter but the transport's own (`TRANSPORT`) as a setting of that query
  only: each request gets a fresh chdb connection, which is a fresh ClickHouse session with
  the server's `profile` (a users.xml profile's settings, e.g. `session_timezone`) applied
  first, then the request's with `readonly` last, as ClickHouse applies URL settings together.
- `database` (or the X-ClickHouse-Database header); the format from a trailing FORMAT clause,
  else `default_format`, else TabSeparated.
- The user: Basic auth, X-ClickHouse-User/X-ClickHouse-Key or `user`/`password`; a mismatch is
  516 AUTHENTICATION_FAILED, HTTP 403.
- Response headers: X-ClickHouse-Query-Id, X-ClickHouse-Format and a Content-Type for a
  statement that has a result, X-ClickHouse-Timezone (the session's `timezone()`, what the
  client uses for times without a zone), X-ClickHouse-Summary (rows and bytes read and
  written, elapsed, from chdb's result), X-ClickHouse-Server-Display-Name.
- Response compression when the session's `enable_http_compression` is on (chdb's default
  is 1, which clickhouse-connect reads from system.settings and so sends only
  Accept-Encoding; a parameter or the profile can turn it off): ClickHouse's choice from
  Accept-Encoding (zstd, br, lz4, gzip, deflate, in its order of preference) among what
  Python here writes (zstd, LZ4 frame, gzip, deflate; br only with brotli installed).
- Errors as ClickHouse writes them (`Code: N. DB::Exception: ... (NAME)`), with
  X-ClickHouse-Exception-Code and the HTTP status ClickHouse's exceptionCodeToHTTPStatus
  gives the names it lists (400, 403, 404, 408, 501, 503; else 500).

Not served, and why:
- `client_protocol_version` is accepted and has no effect: chdb writes Native only at
  revision 0 (no BlockInfo before each block) and has no setting for another revision
  (`SETTINGS client_protocol_version=54405` is UNKNOWN_SETTING). clickhouse-connect probes
  for it at connect (`SELECT 1 AS check`, bytes 8-16), sees revision-0 bytes and stays at
  protocol 0, as it does behind a proxy that strips the parameter.
- Sessions (`session_id`) are refused (501): settings a request sends must end with it, and
  on a kept chdb connection a SET readonly cannot be undone. `ClickHouseServer` opens none.
- Progress headers: results are built whole before the answer (as with
  wait_end_of_query=1), so there are none, and an error never arrives mid-stream
  (X-ClickHouse-Exception-Tag).
- Compressed request bodies, binary INSERT data (`client.insert` sends Native blocks after
  the statement) and external tables (multipart files): chdb takes a statement as text and
  its data inline or from a file (INFILE); nothing here inserts over HTTP. These answer 501.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import gzip
import json
import re
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

__all__ = ["TRANSPORT", "ChdbHttpServer", "serve_chdb_http"]

# Parameters ClickHouse's HTTP handler consumes itself rather than as settings of the query.
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
    }
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
# Statements with a result set (the rest, DDL, DELETE, INSERT, SET, answer an empty body and no format).
_RESULT_STATEMENT = re.compile(r"^\s*\(*\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)\.")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
# ClickHouse's exceptionCodeToHTTPStatus (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), by name.
_STATUS_BY_NAME = {
    **dict.fromkeys(("REQUIRED_PASSWORD",), 401),
    **dict.fromkeys(
        ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"), 403
    ),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "CANNOT_SCHEDULE_TASK": 503,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}
_CONTENT_TYPES = {
    "Native": "application/octet-stream",
    "RowBinary": "application/octet-stream",
    "RowBinaryWithNamesAndTypes": "application/octet-stream",
    "Arrow": "application/octet-stream",
    "Parquet": "application/octet-stream",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
}


def _writers() -> dict[str, Callable[[bytes], bytes]]:
    """Content-Encoding name -> compressor, for the encodings this Python can write."""
    found: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.compress, "deflate": zlib.compress}
    try:
        from backports import zstd  # the same module clickhouse-connect decompresses with (Python < 3.14)

        found["zstd"] = zstd.compress
    except ImportError:
        pass
    try:
        import lz4.frame

        found["lz4"] = lz4.frame.compress
    except ImportError:
        pass
    try:
        import brotli

        found["br"] = brotli.compress
    except ImportError:
        pass
    return found


_COMPRESSORS = _writers()
# ClickHouse's chooseHTTPCompressionMethod: the first of these named anywhere in Accept-Encoding.
_PREFERENCE = ("zstd", "br", "lz4", "snappy", "gzip", "deflate", "xz", "bz2")


class ClickHouseServerError(Exception):
    """A failure answered the way ClickHouse answers it: code, name, message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code, self.name = code, name


def _from_chdb(error: Exception) -> ClickHouseServerError:
    """chdb's error (its text is ClickHouse's, sometimes prefixed) as the exception the server sends."""
    text = str(error)
    start = text.find("Code: ")
    text = text[start:] if start >= 0 else text
    code = _CODE.search(text)
    names = _NAME.findall(text)
    exception = ClickHouseServerError(int(code.group(1)) if code else 1001, names[-1] if names else "STD_EXCEPTION", "")
    exception.args = (text.strip(),)
    return exception


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The plain fields of a multipart/form-data body; a file field (external data) is refused."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        if part.get_filename():
            raise ClickHouseServerError(48, "NOT_IMPLEMENTED", "external data (a file field) is not served here")
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode()
    return fields


class ChdbHttpServer:
    """A loopback ClickHouse HTTP endpoint over the chdb engine at `connection` (':memory:' or a path).

    `profile` holds settings every request starts from (the user's profile on a server);
    tests change it between cases, e.g. to a non-UTC `session_timezone`.
    """

    def __init__(self, connection: str = ":memory:", user: str = "default", password: str = "") -> None:
        self.connection = connection
        self.user, self.password = user, password
        self.profile: dict[str, str] = {}
        self.requests = 0
        self._keeper: Any = None
        self.encodings: Counter[str] = Counter()  # answers sent per Content-Encoding
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, name="chdb-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def url(self, database: str = "default", user: str | None = None, password: str | None = None) -> str:
        """A `--clickhouse` URL for this server."""
        secret = self.password if password is None else password
        return f"http://{user or self.user}:{secret}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # One connection held while serving keeps the engine open, as a server process does:
        # chdb closes an engine (and reloads a data directory) when its last connection closes.
        self._keeper = chdb.connect(self.connection)  # type: ignore[no-untyped-call]
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)
        self._keeper.close()

    def authenticate(self, user: str, password: str) -> None:
        if (user or "default", password) != (self.user, self.password):
            raise ClickHouseServerError(
                516,
                "AUTHENTICATION_FAILED",
                f"{user or 'default'}: Authentication failed: password is incorrect, "
                "or there is no user with such name",
            )

    def run(
        self, sql: str, fmt: str, binds: Mapping[str, str], settings: Mapping[str, str], database: str | None
    ) -> tuple[Any, str, bool]:
        """`sql` in a fresh session: (chdb's result, the session's time zone, whether to compress the answer)."""
        ordered = [*self.profile.items(), *((k, v) for k, v in settings.items() if k != "readonly")]
        ordered += [("readonly", settings["readonly"])] if "readonly" in settings else []
        conn = chdb.connect(self.connection)  # type: ignore[no-untyped-call]
        try:
            if database:
                conn.query(f"USE `{database.replace('`', '``')}`", "TabSeparated")
            for name, value in ordered:
                if not _SETTING_NAME.match(name):
                    raise ClickHouseServerError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
                conn.query(f"SET {name} = {_quoted(value)}", "TabSeparated")
            # What the session says, as clickhouse-connect read it from system.settings: chdb's
            # enable_http_compression is 1 (a server's default is 0), so the client sends no
            # parameter and expects compressed answers.
            state = conn.query("SELECT timezone(), getSetting('enable_http_compression')", "TabSeparated")
            zone, compress = state.bytes().decode().strip().split("\t")
            return conn.query(sql, fmt, params=dict(binds)), zone, compress in ("1", "true")
        except ClickHouseServerError:
            raise
        except Exception as error:
            raise _from_chdb(error) from error
        finally:
            conn.close()


def _handler(server: ChdbHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as urllib3's pool expects

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, method: str) -> None:
            server.requests += 1
            target = urlsplit(self.path)
            params = dict(parse_qsl(target.query, keep_blank_values=True))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query_id = params.get("query_id") or str(uuid.uuid4())
            base = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Server-Display-Name": "chdb-loopback"}
            if target.path == "/ping" or (target.path == "/" and method == "GET" and "query" not in params):
                self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            try:
                if target.path != "/":
                    raise ClickHouseServerError(
                        48, "NOT_IMPLEMENTED", f"no handler for {target.path} (only / and /ping are served)"
                    )
                status, payload, headers = self._execute(method, params, body)
            except ClickHouseServerError as error:
                headers = {
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": str(error.code),
                }
                self._send(_STATUS_BY_NAME.get(error.name, 500), f"{error}\n".encode(), {**base, **headers})
                return
            self._send(status, payload, {**base, **headers})

        def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
            authorization = self.headers.get("Authorization", "")
            if authorization.startswith("Basic "):
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
                return user, password
            if self.headers.get("X-ClickHouse-User"):
                return self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
            return params.get("user", "default"), params.get("password", "")

        def _execute(self, method: str, params: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
            server.authenticate(*self._credentials(params))
            if "session_id" in params:
                raise ClickHouseServerError(48, "NOT_IMPLEMENTED", "sessions (session_id) are not served here")
            if self.headers.get("Content-Encoding", "identity") != "identity":
                raise ClickHouseServerError(48, "NOT_IMPLEMENTED", "compressed request bodies are not served here")
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params.update(_form_fields(content_type, body))
                body = b""
            try:
                text = body.decode()
            except UnicodeDecodeError:
                message = "binary data in the body is not served here"
                raise ClickHouseServerError(48, "NOT_IMPLEMENTED", message) from None
            sql = "\n".join(part for part in (params.get("query", ""), text) if part)
            if not sql.strip():
                raise ClickHouseServerError(62, "SYNTAX_ERROR", "Empty query")
            settings = {k: v for k, v in params.items() if k not in TRANSPORT and not k.startswith("param_")}
            if method == "GET" and settings.get("readonly", "0") == "0":
                settings["readonly"] = "2"  # ClickHouse runs a GET read-only
            binds = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
            explicit = _TRAILING_FORMAT.search(sql)
            fmt = explicit.group(1) if explicit else params.get("default_format") or "TabSeparated"
            database = params.get("database") or self.headers.get("X-ClickHouse-Database") or None
            result, zone, compress = server.run(sql, fmt, binds, settings, database)
            payload = result.bytes() or b""
            summary = {
                "read_rows": str(result.rows_read()),
                "read_bytes": str(result.bytes_read()),
                "written_rows": str(result.rows_written()),
                "written_bytes": str(result.bytes_written()),
                "elapsed_ns": str(int(result.elapsed() * 1e9)),
            }
            headers = {"X-ClickHouse-Timezone": zone, "X-ClickHouse-Summary": json.dumps(summary)}
            if explicit or _RESULT_STATEMENT.match(sql):
                headers["X-ClickHouse-Format"] = fmt
                headers["Content-Type"] = _CONTENT_TYPES.get(fmt, "text/tab-separated-values; charset=UTF-8")
            if compress and payload:
                offered = self.headers.get("Accept-Encoding", "")
                chosen = next((name for name in _PREFERENCE if name in offered), None)
                if chosen in _COMPRESSORS:
                    payload = _COMPRESSORS[chosen](payload)
                    headers["Content-Encoding"] = chosen
                    server.encodings[chosen] += 1
            return 200, payload, headers

    return Handler


@contextmanager
def serve_chdb_http(connection: str = ":memory:") -> Iterator[ChdbHttpServer]:
    """A started `ChdbHttpServer`, stopped on exit."""
    server = ChdbHttpServer(connection)
    server.start()
    try:
        yield server
    finally:
        server.stop()
