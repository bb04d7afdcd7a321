"""One prune of one file, as `getgather-otel prune` and the background retention run it.

Plans under the policy, applies the plan in one transaction while holding the file's
lock (`compaction.exclusive_connection`, so no getgather-otel writer is mid-batch), then
rewrites the file to give the space back when anything was removed. Progress goes to a
callback so the CLI can print it and the background job can log it.

`prune_clickhouse` is the same for ClickHouse (`prune --clickhouse`): plan, then delete
the planned recordings' otel_logs rows; ClickHouse merges the space back itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from getgather_otel.store.engine import Engine
from getgather_otel.store.maintenance.compaction import CompactionResult, compact, exclusive_connection
from getgather_otel.store.maintenance.retention import (
    PrunePlan,
    RetentionPolicy,
    apply_clickhouse_prune,
    apply_prune,
    plan_clickhouse_prune,
    plan_prune,
)
from getgather_otel.store.progress import Progress, quiet
from getgather_otel.store.reader import open_for_reading

__all__ = ["PruneResult", "prune_clickhouse", "prune_file"]


@dataclass(frozen=True)
class PruneResult:
    plan: PrunePlan
    applied: bool
    compaction: CompactionResult | None
    seconds: float


def prune_file(
    db: Path,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    reclaim_space: bool = True,
    wait_s: float = 30.0,
    progress: Progress = quiet,
) -> PruneResult:
    """Remove what `policy` says should go from `db` (or only plan it, with `dry_run`).

    A file that is missing, damaged, someone else's or newer is refused in one sentence, as
    readers refuse it, before anything writes to it (`exclusive_connection(existing=True)`):
    the writable connection migrates, which gave someone else's file our tables.
    """
    started = time.monotonic()
    if dry_run:
        with open_for_reading(db, wait_s) as conn:
            plan = plan_prune(conn, policy)
        return PruneResult(plan, False, None, time.monotonic() - started)
    with exclusive_connection(db, wait_s, existing=True) as conn:
        plan = plan_prune(conn, policy)
        progress(f"removing {plan.summary()}")
        apply_prune(conn, plan)
    compaction = None
    if reclaim_space and (plan.spans or plan.recordings):
        progress("rewriting the file to give the space back")
        compaction = compact(db, wait_s)
    return PruneResult(plan, True, compaction, time.monotonic() - started)


def prune_clickhouse(
    engine: Engine, policy: RetentionPolicy, *, dry_run: bool = False, progress: Progress = quiet
) -> PruneResult:
    """Remove the recordings `policy` says should go from ClickHouse behind `engine` (or only plan it)."""
    started = time.monotonic()
    plan = plan_clickhouse_prune(engine, policy)
    if dry_run:
        return PruneResult(plan, False, None, time.monotonic() - started)
    progress(f"removing {plan.summary()}")
    apply_clickhouse_prune(engine, plan)
    return PruneResult(plan, True, None, time.monotonic() - started)
