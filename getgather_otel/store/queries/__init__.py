"""Every SQL statement the store runs, one module per area."""
