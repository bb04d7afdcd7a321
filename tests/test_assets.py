"""The browser assets build (recording/assets.py): our recorder ships minified, never stale."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from patchright.async_api import Playwright

import getgather_otel
from getgather_otel import activity
from getgather_otel.demo.browser import launch_options
from getgather_otel.recording import assets
from tests.conftest import Sites

REPO = Path(__file__).resolve().parent.parent
BUILT = assets.ASSETS_DIR / assets.RECORDER_BUNDLE


@pytest.fixture
def assets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty assets directory in place of the package's; caches cleared before and after."""
    assets_dir = tmp_path / "assets"
    assets_dir.mkdir()
    monkeypatch.setattr(assets, "ASSETS_DIR", assets_dir)
    assets.recorder_script.cache_clear()
    yield assets_dir
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
    with pytest.raises(assets.MissingAssetError, match=r"esbuild not found: esbuild is a devDependency.*npm ci"):
        assets.minify_recorder(tmp_path)


def test_a_truncated_recorder_is_refused(assets_dir: Path) -> None:
    """A build killed mid-write (or a file cut short on disk): the stamp covers the bundle's own bytes."""
    stamp, _, script = BUILT.read_text(encoding="utf-8").partition("\n")
    (assets_dir / assets.RECORDER_BUNDLE).write_text(stamp + "\n" + script[: len(script) // 2], encoding="utf-8")
    with pytest.raises(assets.MissingAssetError, match="build it again"):
        assets.recorder_script()


def test_an_esbuild_that_cannot_run_is_one_error(tmp_path: Path) -> None:
    esbuild = tmp_path / assets.ESBUILD
    esbuild.parent.mkdir(parents=True)
    esbuild.write_text("not a program")  # not executable: a node_modules copied from elsewhere
    with pytest.raises(assets.MissingAssetError, match=r"cannot run .*esbuild"):
        assets.minify_recorder(tmp_path)


@pytest.mark.parametrize("broken", ["no esbuild", "a patch that no longer matches"])
def test_a_failed_build_leaves_the_assets_as_they_were(assets_dir: Path, tmp_path: Path, broken: str) -> None:
    """Everything is made before anything is written: no half-built assets directory."""
    node_modules = tmp_path / "node_modules"
    for src in assets.SOURCES.values():
        (node_modules / src).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "node_modules" / src, node_modules / src)
    if broken == "a patch that no longer matches":
        (node_modules / ".bin").mkdir()
        (node_modules / assets.ESBUILD).symlink_to(REPO / "node_modules" / assets.ESBUILD)
        recorder = node_modules / assets.SOURCES["rrweb-record.js"]
        recorder.write_text(recorder.read_text().replace("we.takeFullSnapshot=e=>{", "we.takeFullSnapshot=x=>{"))
    before = assets_dir / "rrweb-record.js"
    before.write_text("the previous build")
    with pytest.raises(assets.MissingAssetError, match=r"esbuild not found|cannot patch"):
        assets.build(node_modules)
    assert sorted(p.name for p in assets_dir.iterdir()) == ["rrweb-record.js"]
    assert before.read_text() == "the previous build"


def test_build_finds_the_checkouts_node_modules_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no node_modules here
    monkeypatch.setattr(assets, "build", lambda node_modules: [node_modules])
    assert assets.main(["build"]) == 0
    assert str(REPO / "node_modules") in capsys.readouterr().err
    assert assets.main(["build", "a", "b"]) == 2


async def test_auto_recording_without_assets_says_so_once_and_the_browser_works(
    db_path: Path, playwright: Playwright, sites: Sites, assets_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assets.load.cache_clear()
    telemetry = getgather_otel.configure(duckdb_path=db_path, record_browsers=True)
    try:
        browser = await playwright.chromium.launch(**launch_options())
        for n in range(3):
            context = await browser.new_context()
            async with activity(name=f"unrecorded{n}"):
                page = await context.new_page()
                await page.goto(f"{sites.main}/other.html")
                assert await page.text_content("#other-text") == "cross-origin content"
        await browser.close()
    finally:
        telemetry.shutdown()
        assets.load.cache_clear()
    said = [r for r in caplog.records if "will not be recorded" in r.getMessage()]
    assert len(said) == 1 and assets.BUILD_HINT in said[0].getMessage() and said[0].exc_info is None
