"""Hold a read-write DuckDB connection (as a duckdb shell would) until stdin closes."""

import sys

import duckdb

conn = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
conn.close()
