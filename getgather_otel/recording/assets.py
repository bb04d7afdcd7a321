"""The browser bundles getgather-otel ships, and how they get into the package.

rrweb's recorder and rrweb-player (recordings and replays) and uPlot (the viewer's
charts) come from the npm registry (versions pinned in
`package.json` and `package-lock.json`); `build` copies the built files from
`node_modules/` into `getgather_otel/recording/assets/`, which the wheel ships as package
data, applying the few upstream fixes in PATCHES that the pinned release lacks. Nothing
third-party is committed and nothing is fetched at run time, so a missing bundle is a
clear error that says how to build it.

`build` also minifies our own recorder (`js/privacy.js`, `js/world.js`, `js/snapshot.js`)
with esbuild (a devDependency, pinned the same way) into `assets/recorder.min.js`: Chromium
compiles the whole recorder script again in every recorded document, before the page's own
scripts run, and minifying our part (70 KB as written, 21 KB) took that from 7.5 to 4.2 ms
per document on this machine (`bench/recorder_compile.py`, BENCHMARKS.md section 8). The
minified file's first line carries the SHA-256 of the sources it was built from and of its
own text: when the sources changed since, or the file was cut short, loading it is an error
that says to build again, never a silent run of stale code. `build` makes everything before
it writes anything, and writes each file whole (a temporary file renamed over it).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ASSETS_DIR = Path(__file__).with_name("assets")
RECORDER_SCRIPT = Path(__file__).with_name("js") / "world.js"
# Loaded before world.js, in the same function: what is masked in the page (js/privacy.js).
PRIVACY_SCRIPT = Path(__file__).with_name("js") / "privacy.js"
SNAPSHOT_SCRIPT = Path(__file__).with_name("js") / "snapshot.js"
RECORDER_SOURCES = (PRIVACY_SCRIPT, RECORDER_SCRIPT, SNAPSHOT_SCRIPT)
# Our recorder as one minified function expression, built from RECORDER_SOURCES.
RECORDER_BUNDLE = "recorder.min.js"
ESBUILD = Path(".bin") / "esbuild"
_ASSIGNED = "__ggRecorder"
_STAMP = "// sha256 of the recorder sources: "

# asset file name -> where npm puts it, relative to node_modules/
SOURCES: dict[str, str] = {
    "rrweb-record.js": "@rrweb/record/dist/record.umd.min.cjs",
    "rrweb-player.js": "rrweb-player/dist/rrweb-player.umd.min.cjs",
    "rrweb-player.css": "rrweb-player/dist/style.min.css",
    "uPlot.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.css": "uplot/dist/uPlot.min.css",
}
BUILD_HINT = "npm ci && python -m getgather_otel.recording.assets build"


@dataclass(frozen=True)
class BundlePatch:
    """A fix applied to a pinned bundle at build time, until the release that carries it upstream."""

    asset: str
    why: str
    old: str
    new: str


PATCHES: tuple[BundlePatch, ...] = (
    # rrweb 2.1.6 lists the Element *methods* querySelector/querySelectorAll among the
    # accessors it checks for tampering, so every check fails and every document creates,
    # attaches and removes a hidden iframe to fetch "untainted" prototypes: 12-20 ms of
    # main-thread time per document, most of the recorder's cost on small pages
    # (bench/recording.py). Upstream fix: rrweb-io/rrweb pull request 1802 (open).
    BundlePatch(
        asset="rrweb-record.js",
        why="querySelector/querySelectorAll are methods, not accessors (rrweb PR 1802)",
        old='Element:["shadowRoot","querySelector","querySelectorAll"]',
        new='Element:["shadowRoot"]',
    ),
    BundlePatch(
        asset="rrweb-record.js",
        why="querySelector/querySelectorAll are methods, not accessors (rrweb PR 1802)",
        old='Element:[],MutationObserver:["constructor"]',
        new='Element:["querySelector","querySelectorAll"],MutationObserver:["constructor"]',
    ),
    # Not an upstream fix: the hook for getgather-otel's faster full snapshot (js/snapshot.js).
    # rrweb's `snapshot()` hands its normalised options to `hooks.snapshot` when the recorder
    # set one (isolated worlds only), with the internals that keep ids and attributes rrweb's
    # own. `__ggHooks` is declared by the wrapper in world_script.py; elsewhere the bundle
    # behaves as published.
    BundlePatch(
        asset="rrweb-record.js",
        why="the faster full snapshot's hook (getgather_otel/recording/js/snapshot.js)",
        old="W=Ft(f);return de(e,{doc:e,",
        new=(
            'W=Ft(f),gg=typeof __ggHooks=="object"?__ggHooks:null;'
            "gg&&(gg.tools={serializeNodeWithId:de,genId:xt,transformAttribute:Lt});"
            "return(gg&&gg.snapshot||de)(e,{doc:e,"
        ),
    ),
    # Not upstream fixes: the hooks through which js/world.js keeps rrweb from reading scroll
    # offsets that are known to be 0 (`__ggHooks.scrolled`, for each element rrweb serializes,
    # and `__ggHooks.windowOffset`, for a full snapshot's `initialOffset`). Each read forces a
    # style and layout pass; at DOMContentLoaded that pass is done again once the page's own
    # handlers restyle it. Without the hooks (the main-world fallback) rrweb reads as published.
    BundlePatch(
        asset="rrweb-record.js",
        why="skip scroll reads of elements that never scrolled (js/world.js scrolledElements)",
        old="if(p||(e.scrollLeft&&(S.rr_scrollLeft=e.scrollLeft)",
        new=(
            'if(p||typeof __ggHooks=="object"&&__ggHooks.scrolled&&!__ggHooks.scrolled(e)'
            "||(e.scrollLeft&&(S.rr_scrollLeft=e.scrollLeft)"
        ),
    ),
    # rrweb's selection observer reads the selection as it starts (at DOMContentLoaded), and
    # `Selection.isCollapsed` forces a style and layout pass: on a 20,000-row page that one read
    # was ~870 ms of the document's DOMContentLoaded handlers (V8 sampling profile,
    # bench/recording.py heavy). A document this world saw from its start has no selection
    # anyone made yet; a later one arrives as a `selectionchange`, which rrweb listens to.
    BundlePatch(
        asset="rrweb-record.js",
        why="no initial selection read in a document seen from its start (js/world.js freshDocument)",
        old='o({ranges:d})});return c(),U("selectionchange",c)}',
        new=(
            'o({ranges:d})});return(typeof __ggHooks=="object"&&__ggHooks.freshDocument&&__ggHooks.freshDocument()'
            '||c()),U("selectionchange",c)}'
        ),
    ),
    BundlePatch(
        asset="rrweb-record.js",
        why="a never-scrolled document's initialOffset without a layout (js/world.js scrolledElements)",
        old="initialOffset:Pt(window)",
        new=(
            'initialOffset:typeof __ggHooks=="object"&&__ggHooks.windowOffset'
            "?__ggHooks.windowOffset(window,Pt):Pt(window)"
        ),
    ),
    # Not an upstream fix: rrweb starts recording a document at DOMContentLoaded, and refuses a
    # full snapshot before. A failure's checkpoint of a document still loading (a body that streams
    # slowly or never ends) asks for one anyway (`takeFullSnapshot(true, true)`, js/world.js
    # `takeSnapshot`): what has been parsed so far, so the replay ends on the failing page. rrweb's
    # own snapshot and observers still come at DOMContentLoaded.
    BundlePatch(
        asset="rrweb-record.js",
        why="a full snapshot of a document still loading, on request (js/world.js takeSnapshot)",
        old="we.takeFullSnapshot=e=>{if(!Be)throw",
        new="we.takeFullSnapshot=(e,t)=>{if(!Be&&!t)throw",
    ),
    # rrweb builds the Blob of its canvas worker's source when its bundle is evaluated, in every
    # document, though only canvas recording (`recordCanvas`, off here) starts that worker: ~1 ms
    # of each recorded document's main thread before the page's own scripts run (V8 sampling
    # profile of the script run in fresh worlds, bench/recorder_compile.py), where the sign-in
    # flow's whole budget is ~6 ms a document. Made when a worker is started instead.
    BundlePatch(
        asset="rrweb-record.js",
        why="the canvas worker's Blob made when the worker starts, not in every document",
        old=(
            'It=typeof self!="undefined"&&self.Blob&&new Blob([Kt],{type:"text/javascript;charset=utf-8"});'
            'function Tn(e){let t;try{if(t=It&&(self.URL||self.webkitURL).createObjectURL(It),!t)throw"";'
        ),
        new=(
            'It=()=>typeof self!="undefined"&&self.Blob&&new Blob([Kt],{type:"text/javascript;charset=utf-8"});'
            'function Tn(e){let t;try{const gb=It();if(t=gb&&(self.URL||self.webkitURL).createObjectURL(gb),!t)throw"";'
        ),
    ),
)


class MissingAssetError(RuntimeError):
    """A browser bundle is not built; the message says how to build it."""


@functools.cache
def load(name: str) -> str:
    """The text of asset `name` (one of SOURCES), read once per process."""
    if name not in SOURCES:
        raise KeyError(f"unknown asset {name!r}; known: {sorted(SOURCES)}")
    path = ASSETS_DIR / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingAssetError(
            f"the rrweb bundle {name} is missing from {ASSETS_DIR}: this getgather-otel was installed "
            f"from source without its browser assets. From the source checkout run: {BUILD_HINT}"
        ) from None


def recorder_function_source() -> str:
    """Our recorder as written: one function expression `(function (rrwebRecord, config) {...})`
    whose body is `js/privacy.js` (what is masked in the page), then `js/world.js`, then the
    faster full snapshot it installs, `js/snapshot.js` (committed source, no third-party code)."""
    body = "\n".join(script.read_text(encoding="utf-8") for script in RECORDER_SOURCES)
    return "(function (rrwebRecord, config) {\n" + body + "\n})"


def _sources_digest() -> str:
    return hashlib.sha256(recorder_function_source().encode()).hexdigest()


def _stamp(bundle: str) -> str:
    """The first line of recorder.min.js: the sources' digest and the bundle's own (a truncated write fails it)."""
    return f"{_STAMP}{_sources_digest()}; of this bundle: {hashlib.sha256(bundle.encode()).hexdigest()}"


@functools.cache
def recorder_script() -> str:
    """Our recorder, minified: a function expression of `(rrwebRecord, config)` (see
    `recorder_function_source`), read once per process from `assets/recorder.min.js`.

    Raises MissingAssetError when it is not built, was built from other sources than the
    `js/` files beside it (edited since the last `build`), or is not whole.
    """
    path = ASSETS_DIR / RECORDER_BUNDLE
    try:
        stamp, _, script = path.read_text(encoding="utf-8").partition("\n")
    except FileNotFoundError:
        raise MissingAssetError(
            f"the minified recorder {RECORDER_BUNDLE} is missing from {ASSETS_DIR}: this getgather-otel was "
            f"installed from source without its browser assets. From the source checkout run: {BUILD_HINT}"
        ) from None
    if stamp != _stamp(script):
        raise MissingAssetError(
            f"{path} was built from other sources than {PRIVACY_SCRIPT.parent}/*.js (edited since?) "
            f"or is cut short; build it again: {BUILD_HINT}"
        )
    return script


def minify_recorder(node_modules: Path) -> str:
    """`recorder_function_source()` minified by the pinned esbuild (`node_modules/.bin/esbuild`);
    raises MissingAssetError when esbuild is not installed or refuses the source."""
    esbuild = node_modules / ESBUILD
    if not esbuild.is_file():
        raise MissingAssetError(
            f"{esbuild} not found: esbuild is a devDependency in package.json; run `npm ci` in the source "
            "checkout with dev dependencies (not `--omit=dev`, not under NODE_ENV=production)"
        )
    # Assigned to a name, or esbuild drops the expression as unused.
    try:
        done = subprocess.run(
            [str(esbuild), "--minify", "--loader=js", "--log-level=error"],
            input=f"{_ASSIGNED}={recorder_function_source()};",
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:  # not executable, or installed for another platform
        raise MissingAssetError(f"cannot run {esbuild} ({error}); run `npm ci` again on this machine") from None
    if done.returncode != 0:
        raise MissingAssetError(f"esbuild could not minify the recorder: {done.stderr.strip()}")
    minified = done.stdout.strip()
    if not (minified.startswith(_ASSIGNED + "=") and minified.endswith(";")):
        raise MissingAssetError(f"esbuild's minified recorder has an unexpected shape: {minified[:80]!r}")
    # Parenthesised, so that the caller can apply it to its arguments.
    return "(" + minified[len(_ASSIGNED) + 1 : -1] + ")"


def strip_source_map(bundle: str) -> str:
    """Drop the `//# sourceMappingURL` line: the map is not shipped, and a browser would ask for it."""
    return "\n".join(line for line in bundle.splitlines() if not line.startswith("//# sourceMappingURL="))


def apply_patches(name: str, bundle: str) -> str:
    """`bundle` with this asset's PATCHES applied; each must match exactly once.

    A patch that no longer matches means the pinned version changed: check whether the
    new release carries the fix, then drop or update the patch.
    """
    for patch in PATCHES:
        if patch.asset != name:
            continue
        found = bundle.count(patch.old)
        if found != 1:
            raise MissingAssetError(
                f"cannot patch {name} ({patch.why}): expected the text once, found it {found} times; "
                "the rrweb version changed, so review PATCHES in getgather_otel/recording/assets.py"
            )
        bundle = bundle.replace(patch.old, patch.new)
    return bundle


def _write_atomically(target: Path, text: str) -> None:
    """A reader (a running server, a test) sees the old file or the new one, never half of one."""
    partial = target.with_name(target.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def build(node_modules: Path) -> list[Path]:
    """Copy the pinned npm bundles into the package; returns the files written."""
    missing = [src for src in SOURCES.values() if not (node_modules / src).is_file()]
    if missing:
        raise MissingAssetError(f"{', '.join(missing)} not found under {node_modules}; run `npm ci` first")
    # Everything made first (a patch that no longer matches, an esbuild that fails), then written.
    texts = {}
    for name, src in SOURCES.items():
        text = apply_patches(name, (node_modules / src).read_text(encoding="utf-8"))
        texts[name] = strip_source_map(text) if name.endswith(".js") else text
    minified = minify_recorder(node_modules)
    texts[RECORDER_BUNDLE] = _stamp(minified) + "\n" + minified
    ASSETS_DIR.mkdir(exist_ok=True)
    written = []
    for name, text in texts.items():
        target = ASSETS_DIR / name
        _write_atomically(target, text)
        written.append(target)
    load.cache_clear()
    recorder_script.cache_clear()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["build"] or len(args) > 2:
        print("usage: python -m getgather_otel.recording.assets build [NODE_MODULES]", file=sys.stderr)
        return 2
    # Default: ./node_modules, else the one beside package.json in the source checkout this module is in.
    here = Path.cwd() / "node_modules"
    checkout = Path(__file__).resolve().parents[2] / "node_modules"
    node_modules = Path(args[1]) if len(args) > 1 else (here if here.is_dir() or not checkout.is_dir() else checkout)
    try:
        for path in build(node_modules):
            print(f"wrote {path} ({path.stat().st_size} bytes)", file=sys.stderr)
    except MissingAssetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def is_built() -> bool:
    return all((ASSETS_DIR / name).is_file() for name in (*SOURCES, RECORDER_BUNDLE))


if __name__ == "__main__":
    sys.exit(main())

__all__ = [
    "BUILD_HINT",
    "MissingAssetError",
    "build",
    "is_built",
    "load",
    "minify_recorder",
    "recorder_function_source",
    "recorder_script",
]
