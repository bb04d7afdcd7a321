"""Serving HTTP: binding sockets before starting, bearer tokens (shared by the viewer and `collect`)."""
