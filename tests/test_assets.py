"""The browser assets build (recording/assets.py): our recorder ships minified, never stale."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from getgather_otel.recording import assets

REPO = Path(__file__).resolve().parent.parent
BUILT = assets.ASSETS_DIR / assets.RECORDER_BUNDLE


@pytest.fixture
def assets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty assets directory in place of the package's; caches cleared before and after."""
    monkeypatch.setattr(assets, "ASSETS_DIR", tmp_path)
    assets.recorder_script.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    assets.recorder_script.cache_clear()


def test_the_recorder_ships_minified_from_the_sources_beside_it() -> None:
    built = BUILT.read_text(encoding="utf-8")
    script = assets.recorder_script()
    assert built.endswith(script) and built.startswith("// sha256 of the recorder sources: ")
    source = assets.recorder_function_source()
    assert len(script) < len(source) / 2, (len(script), len(source))
    assert script.startswith("(") and script.endswith(")"), "a function expression the caller applies"
    # Deterministic: the pinned esbuild makes the same bytes again from the same sources.
    assert assets.minify_recorder(REPO / "node_modules") == script


def test_a_missing_recorder_says_how_to_build_it(assets_dir: Path) -> None:
    with pytest.raises(assets.MissingAssetError, match=re.escape(assets.BUILD_HINT)):
        assets.recorder_script()


def test_a_recorder_built_from_other_sources_is_refused_not_run(assets_dir: Path) -> None:
    shutil.copy(BUILT, assets_dir)  # the real build
    assets.recorder_script()  # built from these very sources: fine
    assets.recorder_script.cache_clear()
    stale = assets_dir / assets.RECORDER_BUNDLE
    stamp, _, script = stale.read_text(encoding="utf-8").partition("\n")
    stale.write_text(stamp[:-8] + "00000000\n" + script, encoding="utf-8")  # as if js/world.js changed since
    with pytest.raises(assets.MissingAssetError, match=r"built from other sources.*build it again"):
        assets.recorder_script()


def test_minifying_without_esbuild_says_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(assets.MissingAssetError, match="esbuild not found; run `npm ci` first"):
        assets.minify_recorder(tmp_path)
