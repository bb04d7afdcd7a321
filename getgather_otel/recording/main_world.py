"""The opt-in main-world fallback, for browsers without CDP (Playwright's Firefox and WebKit).

Never used for Chromium (`recorder.browser_name`). With `RecordingOptions(world="main")`,
the same `js/world.js` runs as a context init script in
each page's own world and calls a context binding (`expose_binding`). Everything the
isolated world hides is visible here (docs/architecture.md lists what a page can read: the
binding, a symbol on `document`, rrweb's hooks on input setters and stylesheets, its
messages between frames), and under Patchright any init script or binding leaves
cross-origin iframes on `chrome-error://`. It is never chosen by itself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from getgather_otel._log import logger

__all__ = ["INJECT_TIMEOUT_MS", "MainWorldPage", "attach_context", "evaluate_main"]

INJECT_TIMEOUT_MS = 10_000


@functools.cache
def _has_isolated_context(page_class: Any) -> bool:
    return "isolated_context" in inspect.signature(page_class.evaluate).parameters


async def evaluate_main(page: Any, expression: str) -> Any:
    """Evaluate in the page's main world (Patchright defaults to an isolated one)."""
    page_class: Any = type(page)
    if _has_isolated_context(page_class):
        return await page.evaluate(expression, isolated_context=False)
    return await page.evaluate(expression)


async def attach_context(context: Any, script: str, binding: str, on_call: Callable[..., None]) -> None:
    """The context's init script and binding (`on_call(source, payload)`), once per context."""
    await context.expose_binding(binding, on_call)
    await context.add_init_script(script=script)


class MainWorldPage:
    """One page recorded from its main world: evaluate there, inject where the init script did not run."""

    def __init__(self, page: Any, script_for: Callable[[], str], running: str) -> None:
        self.page = page
        self._script_for = script_for
        # An expression that is null where the recorder does not run in the document.
        self._running = running

    async def start(self) -> None:
        """Inject into a document the init script missed (pages open before attaching, about:blank)."""
        try:
            await self.page.wait_for_load_state("domcontentloaded", timeout=INJECT_TIMEOUT_MS)
            if await evaluate_main(self.page, self._running) is None:
                await evaluate_main(self.page, self._script_for())
        except Exception as error:  # closed, crashed or navigating away: nothing to record
            logger.debug("could not check the main-world recorder: %s", error)

    async def evaluate_top(self, expression: str) -> Any:
        return await evaluate_main(self.page, expression)

    async def reinstall_top(self) -> None:
        await evaluate_main(self.page, self._script_for())

    async def close(self) -> None:
        """Nothing to detach: the init script goes with the context."""
