"""An instrumented process whose OTLP endpoint may be dead or mute: how fast does it exit?

Usage: exit_with_otlp.py DB ENDPOINT return|sigterm [ACTIVITIES]. Ends ACTIVITIES activities
(default 20) with OTLP spans and metrics configured towards ENDPOINT (`-`: no OTLP, and DB may
be a file that cannot be written: nothing waits for a first write), then either returns
from main (`return`, printing "returning <time.time()>" first) or prints "ready" and waits
for SIGTERM (`sigterm`). Stdout carries only that line: telemetry must add nothing to it, as
an MCP stdio server's stdout carries only the protocol.
"""

import sys
import time

import getgather_otel


def main() -> None:
    db, endpoint, mode = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    otlp = None if endpoint == "-" else endpoint
    telemetry = getgather_otel.configure(
        service_name="exit-test", duckdb_path=db, otlp=otlp, metric_interval_s=0.2, record_browsers=False
    )
    # As in a server that has been running: the first batch has been written (the file's schema
    # created, pyarrow warmed up), the rest is still queued when the process is asked to stop.
    with getgather_otel.activity(name="tick", brand_id="netflix", seq=0):
        pass
    while otlp is not None and ((stats := telemetry.stats().duckdb) is None or stats.written < 1):
        time.sleep(0.05)
    for seq in range(1, count):
        with getgather_otel.activity(name="tick", brand_id="netflix", seq=seq):
            pass
    if mode == "sigterm":
        print("ready", flush=True)
        while True:
            time.sleep(1)
    print(f"returning {time.time()}", flush=True)


if __name__ == "__main__":
    main()
