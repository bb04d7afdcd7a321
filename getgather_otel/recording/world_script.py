"""The script that runs in a recorded document: rrweb plus `js/world.js`, wrapped so neither leaks a global.

Built once per options: a 100 KB script (rrweb's 77 KB bundle and our minified recorder,
`assets.recorder_script`) sent to Chromium once per page (CDP
`Page.addScriptToEvaluateOnNewDocument`) or once per context (the main-world fallback).
The bundle's `__ggHooks` (declared here, read by the patch in assets.py) reaches
`js/world.js` as `rrwebRecord.hooks`: where the fast full snapshot plugs in.
"""

from __future__ import annotations

import json

from getgather_otel.recording import assets
from getgather_otel.recording.options import RecordingOptions

__all__ = ["api_call", "world_script"]


def world_script(options: RecordingOptions, *, isolated: bool, segment: int | None = None) -> str:
    """rrweb and the recorder as one expression; `segment` marks a document injected after a claim.

    `isolated` says the script runs in a CDP isolated world (the default), so it may keep
    rrweb's message listeners and the child frames' `parent` to itself. Raises
    `assets.MissingAssetError` when the rrweb bundle is not built.
    """
    return (
        assets.recorder_script()
        + "((function () { var module = { exports: {} }; var exports = module.exports; var define;"
        + " var __ggHooks = {};\n"
        + assets.load("rrweb-record.js")
        + "\n;module.exports.record.hooks = __ggHooks; return module.exports.record; })(), "
        + options.page_config(segment, isolated=isolated)
        + ");"
    )


def api_call(guard: str, call: str, missing: str, document: str = "document") -> str:
    """A JavaScript expression calling `js/world.js`'s API in a document's world.

    `call` is e.g. `"settle()"`; the expression is `missing` where the recorder is not
    running in that document (yet, or any more).
    """
    key = json.dumps(guard)
    return f"(() => {{ const api = {document}[Symbol.for({key})]; return api ? api.{call} : {missing}; }})()"
