"""An instrumented process whose DuckDB file can never be written now: how fast does it exit?

Usage: exit_with_bad_file.py DB return|sigterm. Ends 5 activities, then either returns from
main (printing "returning <time.time()>" first) or prints "ready" and waits for SIGTERM.
"""

import sys
import time

import getgather_otel


def main() -> None:
    db, mode = sys.argv[1:3]
    getgather_otel.configure(service_name="bad-file", duckdb_path=db, record_browsers=False)
    for seq in range(5):
        with getgather_otel.activity(name="tick", brand_id="netflix", seq=seq):
            pass
    if mode == "sigterm":
        print("ready", flush=True)
        while True:
            time.sleep(1)
    print(f"returning {time.time()}", flush=True)


if __name__ == "__main__":
    main()
