"""The README's and docs' pictures of the app, taken from the real app on the demo store:

    .venv/bin/python docs/img/screens.py          # rewrites docs/img/*.svg

compare.svg (the default theme), compare-light.svg (ctrl+t), compare-nocolor.svg
(NO_COLOR=1) and trend.svg (`h`). tests/tui/test_screenshots.py takes the same pictures
and checks what they show.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (160, 46)


async def _take(db: Path, out: Path, *, theme: str | None, no_color: bool, trend: bool) -> Path:
    from evaltui.tui.app import EvaltuiApp

    saved = os.environ.pop("NO_COLOR", None)
    if no_color:
        os.environ["NO_COLOR"] = "1"
    try:
        app = EvaltuiApp(db)  # Textual reads NO_COLOR when the app is made
    finally:
        os.environ.pop("NO_COLOR", None)
        if saved is not None:
            os.environ["NO_COLOR"] = saved
    async with app.run_test(size=SIZE) as pilot:

        async def settle() -> None:
            for _ in range(6):
                await app.workers.wait_for_complete()
                await pilot.pause(0.05)

        await settle()
        if theme:
            app.theme = theme
        await pilot.press("enter")
        await settle()
        await pilot.press("j", "j")
        await settle()
        if trend:
            await pilot.press("h")
            await settle()
        app.save_screenshot(filename=out.name, path=str(out.parent))
    return out


def take_all(folder: Path) -> dict[str, Path]:
    """A fresh demo store, and the four pictures of it in `folder`."""
    from evaltui import service
    from evaltui.store import Store

    shots = {
        "compare": {"theme": None, "no_color": False, "trend": False},
        "compare-light": {"theme": "textual-light", "no_color": False, "trend": False},
        "compare-nocolor": {"theme": None, "no_color": True, "trend": False},
        "trend": {"theme": None, "no_color": False, "trend": True},
    }
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        os.environ["EVALTUI_REVIEWER"] = "screens"
        with Store(db) as store:
            service.load_demo(store)
        return {
            name: asyncio.run(_take(db, folder / f"{name}.svg", **opts))  # type: ignore[arg-type]
            for name, opts in shots.items()
        }


if __name__ == "__main__":
    for name, path in take_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE).items():
        print(f"{name}: {path}")
