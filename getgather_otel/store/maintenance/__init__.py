"""Keeping a file in shape: retention, pruning, compaction, Parquet export and import."""
