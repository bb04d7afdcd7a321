"""End-to-end OTLP ingest: protobuf over loopback into `getgather-otel collect` and its DuckDB file.

The collector runs as the real command in its own process. Senders (threads here, each
with its own keep-alive connection) post pre-encoded ExportTraceServiceRequests of
`--batch` realistic spans (15 attributes, 2 events) as fast as the collector answers;
a 429 is retried after its Retry-After, as OTLP exporters do. The clock stops when the
collector has written every span (counted in the file after SIGTERM). Baselines in the
same command: `DuckDBSpanExporter` taking the same spans in process (no HTTP, no decode),
and the collector's decode alone (protobuf parse + `to_trace_rows`, one core, no I/O).

Run: .venv/bin/python -m bench.collect_ingest [--spans 200000] [--batch 512] [--senders 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.ingest import measure_exporter
from bench.spans import make_spans
from collectors.otlp_traces import to_trace_rows
from getgather_otel.web.serving import free_ports, wait_until_listening


def _send(port: int, bodies: list[bytes], counters: dict[str, int], lock: threading.Lock) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/x-protobuf"}
    for body in bodies:
        while True:
            connection.request("POST", "/v1/traces", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                break
            if response.status != 429:
                raise RuntimeError(f"collector answered {response.status}")
            with lock:
                counters["429"] += 1
            time.sleep(float(response.getheader("Retry-After") or 1))
    connection.close()


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure_collect(bodies: list[bytes], spans: int, senders: int, db: Path) -> tuple[float, int, float]:
    [port] = free_ports()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "getgather_otel.cli",
            "collect",
            "--db",
            str(db),
            "--port",
            str(port),
            "--grpc-port",
            "-1",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, process)
        counters, lock = {"429": 0}, threading.Lock()
        shares = [bodies[i::senders] for i in range(senders)]
        started = time.perf_counter()
        threads = [threading.Thread(target=_send, args=(port, share, counters, lock)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak_mb = _peak_rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)  # flushes everything accepted, then exits 0
        if process.wait(timeout=120) != 0:
            raise RuntimeError("the collector did not stop cleanly")
        elapsed = time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
    conn = duckdb.connect(str(db), read_only=True)
    stored = conn.execute("SELECT count(*) FROM otel_traces").fetchone()
    conn.close()
    if not stored or stored[0] != spans:
        raise RuntimeError(f"lost spans: sent {spans}, stored {stored}")
    return spans / elapsed, counters["429"], peak_mb


def measure_decode(bodies: list[bytes]) -> float:
    """Spans/s of what the collector's event loop does per request: parse and decode into Arrow."""
    to_trace_rows(ExportTraceServiceRequest.FromString(bodies[0]))  # pyarrow's first-call setup
    spans = 0
    started = time.perf_counter()
    for body in bodies:
        spans += to_trace_rows(ExportTraceServiceRequest.FromString(body)).table.num_rows
    return spans / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=512, help="spans per OTLP request")
    parser.add_argument("--senders", type=int, default=4, help="concurrent exporting processes, as threads")
    args = parser.parse_args()
    spans = make_spans(args.spans)
    bodies = [encode_spans(spans[i : i + args.batch]).SerializeToString() for i in range(0, len(spans), args.batch)]
    mb = sum(map(len, bodies)) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        baseline = measure_exporter(spans, 2048, Path(tmp) / "baseline.duckdb")
        decode = measure_decode(bodies)
        rate, retries, peak_mb = measure_collect(bodies, len(spans), args.senders, Path(tmp) / "collect.duckdb")
    print(
        f"spans: {args.spans} in {len(bodies)} requests of {args.batch} ({mb:.0f} MB protobuf), {args.senders} senders"
    )
    print(f"collect over loopback (decode + convert + insert): {rate:10,.0f} spans/s, 0 lost")
    print(f"in-process DuckDBSpanExporter (baseline):          {baseline:10,.0f} spans/s")
    print(f"decode alone (parse + to_trace_rows, one core):    {decode:10,.0f} spans/s")
    print(f"collect / in-process = {rate / baseline:.2f}; 429 answers: {retries}; collector peak RSS {peak_mb:.0f} MB")
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"(this machine: {os.cpu_count()} cores; bench process max RSS {own_mb} MB)")


if __name__ == "__main__":
    main()
