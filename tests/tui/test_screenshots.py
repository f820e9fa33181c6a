"""SVG snapshots of the compare screen (default theme, light theme, NO_COLOR) and the
trend view, taken by docs/img/screens.py as the docs' pictures are, and read back."""

from __future__ import annotations

import html
import importlib.util
import re

from ..conftest import ROOT


def load_screens():
    spec = importlib.util.spec_from_file_location("screens", ROOT / "docs" / "img" / "screens.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text_of(svg: str) -> str:
    found = html.unescape(" ".join(re.findall(r">([^<>]*)</text>", svg))).replace("\xa0", " ")
    return re.sub(r" +", " ", found)


def backgrounds(svg: str) -> list[str]:
    """The cell background colours, most used first."""
    found: dict[str, int] = {}
    for colour in re.findall(r'<rect fill="(#[0-9a-f]{6})"', svg):
        found[colour] = found.get(colour, 0) + 1
    return sorted(found, key=found.get, reverse=True)  # type: ignore[arg-type]


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_snapshots_of_the_compare_screen_and_the_trend(tmp_path):
    shots = {name: path.read_text() for name, path in load_screens().take_all(tmp_path).items()}
    for name in ("compare", "compare-light", "compare-nocolor"):
        shown = text_of(shots[name])
        assert "REGRESSED" in shown and "case 3 of 302" in shown, name
        assert "bars: ● candidate" in shown and "? Help" in shown
    assert luminance(backgrounds(shots["compare"])[0]) < 0.2  # dark
    assert luminance(backgrounds(shots["compare-light"])[0]) > 0.8  # light
    # NO_COLOR: no colour at all, only the terminal's own foreground and background;
    # the case list and the scoreboard still say everything in words and symbols.
    fills = set(re.findall(r"fill: (#[0-9a-f]{6})", shots["compare-nocolor"]))
    assert len(fills) <= 2, fills
    assert len(set(backgrounds(shots["compare-nocolor"]))) <= 2
    trend = text_of(shots["trend"])
    assert "2 runs of this suite" in trend and "standing failures" in trend and "✗✗" in trend
    assert (ROOT / "docs" / "img" / "compare.svg").exists() and (
        ROOT / "docs" / "img" / "trend.svg"
    ).exists()
