"""The web viewer: a JSON API over the stored activities, traces and recordings, and the pages that use it.

`getgather-otel ui --db PATH` serves it beside a running instrumented server (reading the
file the way the CLI does); `getgather-otel collect` serves it from the process that
writes. Replays are served from a second origin (another port) so that nothing a recorded
page carries can reach the viewer. See docs/architecture.md.
"""
