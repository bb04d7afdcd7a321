"""An instrumented process that ends activities continuously until it is sent SIGTERM."""

import sys
import time

import getgather_otel

telemetry = getgather_otel.configure(service_name="sigterm-test", duckdb_path=sys.argv[1])
count = 0
while True:
    with getgather_otel.activity(name="tick", brand_id="netflix", seq=count):
        pass
    count += 1
    if count == 200:
        telemetry.flush()
        print("ready", flush=True)
    time.sleep(0.001)
