"""Launching Chromium with Patchright, on machines with Patchright's own browser or only a system one.

`patchright install chromium` is the normal way on a user's machine; CI and locked-down
servers often have only a distribution Chromium (Debian's `chromium`), which is used when
present (or named by $GETGATHER_OTEL_CHROMIUM). Running as root in a container needs
Chromium's sandbox off; the other flags keep a headless browser from calling home.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from getgather_otel import env

__all__ = ["QUIET_ARGS", "SYSTEM_CHROMIUM_NAMES", "chromium_executable", "launch_options"]

SYSTEM_CHROMIUM_NAMES = ("chromium", "chromium-browser")
QUIET_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_executable() -> str | None:
    """$GETGATHER_OTEL_CHROMIUM, else a system Chromium on PATH, else None (Patchright's own)."""
    named = env.CHROMIUM.read()
    if named:
        return named
    return next((path for name in SYSTEM_CHROMIUM_NAMES if (path := shutil.which(name))), None)


def launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for `chromium.launch()` / `launch_persistent_context()` on this machine."""
    args = list(QUIET_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    options: dict[str, Any] = {"headless": headless, "args": args}
    executable = chromium_executable()
    if executable:
        options["executable_path"] = executable
    return options
