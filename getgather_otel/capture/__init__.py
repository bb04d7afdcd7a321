"""Capture: what happens in an MCP server, as spans and metrics.

The FastMCP middleware, activities, brands, redaction of arguments and URLs, the duration
histograms and the attribute names they all write.
"""
