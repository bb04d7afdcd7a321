"""The demo: a sample getgather-like MCP server, called for real, with its telemetry stored."""
