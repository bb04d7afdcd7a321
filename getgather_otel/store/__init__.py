"""DuckDB storage: schema and migrations, the single writer, readers and stock queries."""
