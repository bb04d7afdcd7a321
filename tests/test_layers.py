"""The import layers, read from the source with `ast` (nothing is imported to check them).

- The stages of `getgather_otel` import only downwards, in the order of `STAGES` (the tree
  of docs/architecture.md): a module may import its own stage and the ones listed before it.
- Production code (`getgather_otel` but `demo/`, and `collectors/`) never imports
  `getgather_otel.demo`: the demo depends on the library, not the other way round.
- `getgather_otel` never imports `collectors` (the collection tier sits on top of the
  library), and `collectors/` imports the library only through `getgather_otel.collection`.
- The one way through each rule is a seam in `SEAMS`: a CLI command that starts the demo or
  the collector, importing it inside the command so that no other command loads it.

The checker is itself tested against small sources with planted upward imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("getgather_otel", "collectors")
DEMO = "getgather_otel.demo"
LIBRARY = "getgather_otel"
COLLECTORS = "collectors"
COLLECTION_SEAM = "getgather_otel.collection"

# The stages, bottom first. Modules not listed (the package's `__init__`, `cli`, `demo`)
# sit on top and may import any stage.
STAGES: tuple[tuple[str, ...], ...] = (
    # The vocabulary every stage shares: logging, the version, environment variables, attribute names.
    ("getgather_otel._log", "getgather_otel.version", "getgather_otel.env", "getgather_otel.capture.attributes"),
    ("getgather_otel.store",),
    ("getgather_otel.capture",),
    ("getgather_otel.recording",),
    ("getgather_otel.export",),
    ("getgather_otel.web",),
    ("getgather_otel.viewer",),
    (COLLECTION_SEAM,),
)

# (importing module, imported module): why the rule has a way through there. Each seam must be
# imported inside a function (the command), never at the top of the module.
SEAMS = {
    ("getgather_otel.cli", "getgather_otel.demo.run"): "`getgather-otel demo` runs the demo",
    ("getgather_otel.cli", "collectors.receiver"): "`getgather-otel collect` builds the receiver app",
    ("getgather_otel.cli", "collectors.stores"): "`getgather-otel collect` passes the receiver its settings",
}


@dataclass(frozen=True)
class Import:
    target: str  # a module, or module.name for `from module import name`
    line: int
    lazy: bool  # inside a function: runs only when it is called


def _within(name: str, area: str) -> bool:
    return name == area or name.startswith(area + ".")


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import `from {'.' * level}{target} import ...` in `module`."""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, target] if target else base)


def imports_of(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import in `source` (statements anywhere, and `import_module("literal")` calls)."""
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(module, is_package, node.level, node.module) if node.level else (node.module or "")
            found.extend(Import(f"{origin}.{alias.name}", node.lineno, lazy) for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(node.args[0].value, node.lineno, lazy))
        inside = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def _seam(module: str, target: str) -> str | None:
    for (importer, imported), _why in SEAMS.items():
        if importer == module and _within(target, imported):
            return imported
    return None


def stage_of(name: str) -> int | None:
    """The index in `STAGES` of the module or name `name` (its longest matching prefix), or None."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if _within(name, prefix) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def violations(module: str, imports: list[Import]) -> list[str]:
    """What in `imports` (made by `module`) crosses a layer other than through a lazy seam."""
    problems = []
    for imp in imports:
        below, above = stage_of(imp.target), stage_of(module)
        if _within(module, COLLECTORS) and _within(imp.target, LIBRARY) and not _within(imp.target, COLLECTION_SEAM):
            problems.append(f"{module}:{imp.line}: collectors/ reaches past {COLLECTION_SEAM} ({imp.target})")
            continue
        if below is not None and above is not None and below > above:
            problems.append(f"{module}:{imp.line}: a lower stage imports a higher one ({imp.target})")
            continue
        if _within(imp.target, DEMO) and not _within(module, DEMO):
            rule = "production code imports the demo"
        elif _within(imp.target, COLLECTORS) and _within(module, LIBRARY):
            rule = "getgather_otel imports collectors/"
        else:
            continue
        seam = _seam(module, imp.target)
        if seam is None:
            problems.append(f"{module}:{imp.line}: {rule} ({imp.target})")
        elif not imp.lazy:
            problems.append(f"{module}:{imp.line}: the seam to {seam} must be imported inside the command")
    return problems


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_the_source_tree_keeps_its_layers() -> None:
    modules = _modules()
    assert len(modules) > 50 and "getgather_otel.cli" in modules and "collectors.receiver" in modules
    problems = []
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        problems += violations(module, imports_of(source, module, path.name == "__init__.py"))
    assert problems == []


def test_every_seam_is_still_used() -> None:
    """A seam nothing goes through any more is one fewer: take it out of `SEAMS`."""
    modules = _modules()
    used = set()
    for importer, imported in SEAMS:
        path = modules[importer]
        targets = imports_of(path.read_text(encoding="utf-8"), importer, path.name == "__init__.py")
        if any(_within(imp.target, imported) for imp in targets):
            used.add((importer, imported))
    assert used == set(SEAMS)


UPWARD = [
    ("getgather_otel.store.schema", "from getgather_otel.export.pipeline import configure\n"),
    ("getgather_otel.store.write.writer", "from getgather_otel.capture.activity import Activity\n"),
    ("getgather_otel.capture.middleware", "from getgather_otel.recording import hooks\n"),
    ("getgather_otel.recording.recorder", "def later():\n    from getgather_otel.export import pipeline\n"),
    ("getgather_otel.export.pipeline", "from getgather_otel.viewer.app import ViewerSettings\n"),
    ("getgather_otel.capture.attributes", "from getgather_otel.store import tables\n"),
    ("collectors.receiver", "from getgather_otel._log import logger\n"),
    ("collectors.stores", "from getgather_otel.export.duckdb_store import DuckDBStore\n"),
    ("getgather_otel.viewer.app", "from getgather_otel.demo.loopback import serve_streamable_http\n"),
    ("getgather_otel.viewer.app", "from ..demo import loopback\n"),
    ("getgather_otel.viewer", "from ..demo import loopback\n"),
    ("getgather_otel.store.write.writer", "import getgather_otel.demo.site\n"),
    ("getgather_otel.export.pipeline", "from getgather_otel import demo\n"),
    ("getgather_otel.export.otlp", "import importlib\nimportlib.import_module('getgather_otel.demo.server')\n"),
    ("collectors.receiver", "def build():\n    from getgather_otel.demo.run import run_demo\n"),
    ("getgather_otel.store.write.writer", "from collectors.stores import Stores\n"),
    ("getgather_otel.demo.run", "from collectors.receiver import build_app\n"),
    ("getgather_otel.cli", "from collectors.receiver import build_app\n"),  # the seam, but at the top
    ("getgather_otel.cli", "from getgather_otel.demo.run import run_demo\n"),  # the seam, but at the top
    ("getgather_otel.cli", "def cmd_collect():\n    from collectors.otlp_decode import parse_request\n"),
    ("getgather_otel.cli", "def cmd_ui():\n    from getgather_otel.demo.loopback import serve_streamable_http\n"),
]

ALLOWED = [
    ("getgather_otel.export.pipeline", "from getgather_otel.store.tables import OTEL_TRACES\n"),
    ("getgather_otel.recording.recorder", "from getgather_otel.capture import attributes as attr\n"),
    ("getgather_otel.store.schema", "from getgather_otel.capture import attributes as attr\n"),
    ("getgather_otel.collection", "from getgather_otel.viewer.app import viewer_routes\n"),
    ("collectors.stores", "from getgather_otel.collection import DuckDBStore\n"),
    ("getgather_otel.demo.run", "from getgather_otel.demo.loopback import serve_streamable_http\n"),
    ("getgather_otel.demo.run", "from .loopback import serve_streamable_http\n"),
    ("getgather_otel.viewer.app", "from getgather_otel.web.serving import serve_asgi\n"),
    ("getgather_otel.cli", "def cmd_collect():\n    from collectors.receiver import build_app\n"),
    ("getgather_otel.cli", "def cmd_demo():\n    from getgather_otel.demo.run import run_demo\n"),
    ("getgather_otel.demo_notes", "import getgather_otel.store\n"),  # a name that only starts like demo
]


@pytest.mark.parametrize(("module", "source"), UPWARD)
def test_the_check_fails_on_a_planted_upward_import(module: str, source: str) -> None:
    is_package = module == "getgather_otel.viewer"
    assert violations(module, imports_of(source, module, is_package)) != []


@pytest.mark.parametrize(("module", "source"), ALLOWED)
def test_the_check_passes_imports_along_the_layers(module: str, source: str) -> None:
    assert violations(module, imports_of(source, module)) == []


def test_cli_ui_and_collect_load_no_fastmcp() -> None:
    """What `ui` and `collect` import (the demo command aside) loads no FastMCP."""
    code = (
        "import sys, getgather_otel.cli, getgather_otel.viewer.app, getgather_otel.viewer.reads, collectors.receiver; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'fastmcp'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _all_of(path: Path) -> set[str] | None:
    """The names a module's `__all__` lists (None when it has none), read with `ast`."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        named = any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)
        if named and isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            return {str(item.value) for item in getattr(node.value, "elts", []) if isinstance(item, ast.Constant)}
    return None


def interface_violations(module: str, source: str, modules: dict[str, Path]) -> list[str]:
    """Names `module` takes from another module of the package that are not in that module's `__all__`.

    Both `from a.b import name` and `from a import b as alias` followed by `alias.name` count.
    """
    problems = []
    aliases: dict[str, str] = {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or node.module not in modules:
            continue
        for alias in node.names:
            submodule = f"{node.module}.{alias.name}"
            if submodule in modules:
                aliases[alias.asname or alias.name] = submodule
                continue
            exported = _all_of(modules[node.module])
            if exported is not None and alias.name not in exported:
                problems.append(f"{module}:{node.lineno}: {alias.name} is not in {node.module}.__all__")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            target = aliases[node.value.id]
            exported = _all_of(modules[target])
            if exported is not None and node.attr not in exported and f"{target}.{node.attr}" not in modules:
                problems.append(f"{module}:{node.lineno}: {node.attr} is not in {target}.__all__")
    return problems


def test_every_module_says_what_it_offers_and_others_take_only_that() -> None:
    """Each module lists its interface in `__all__`; the package's public API is `getgather_otel.__all__`
    (and `getgather_otel.collection` for collectors/). Across modules only listed names are used."""
    modules = _modules()
    missing = [
        name for name, path in modules.items() if _all_of(path) is None and path.read_text().strip().count("\n") > 8
    ]
    assert missing == []
    problems = []
    for module, path in modules.items():
        problems += interface_violations(module, path.read_text(encoding="utf-8"), modules)
    assert problems == []


def test_the_interface_check_fails_on_a_private_name() -> None:
    modules = _modules()
    assert interface_violations("x", "from getgather_otel.store.tables import _table\n", modules) != []
    source = "from getgather_otel.capture import attributes as attr\nattr.NOT_A_NAME\n"
    assert interface_violations("x", source, modules) != []
    assert interface_violations("x", "from getgather_otel.store.tables import OTEL_TRACES\n", modules) == []
