"""Every key binding resolves to an action that exists, and pressing each one keeps the app alive."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from textual.actions import parse
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

import evaltui.tui
from evaltui import gate, service
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.case import CaseScreen
from evaltui.tui.screens.compare import CompareScreen
from evaltui.tui.screens.gate import GateScreen
from evaltui.tui.screens.runs import RunsScreen
from evaltui.tui.screens.stale import StaleScreen

from ..conftest import FIXTURES
from .conftest import settle


def our_classes() -> list[type]:
    """Every screen, widget and app class defined in evaltui.tui (walked, not listed)."""
    found = []
    for info in pkgutil.walk_packages(evaltui.tui.__path__, prefix="evaltui.tui."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and issubclass(obj, Screen | Widget | App):
                found.append(obj)
    return found


CLASSES = our_classes()


def bindings(cls: type) -> list[Binding]:
    """The class's own bindings (as declared, before Textual merges them)."""
    return [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]


def test_the_walk_finds_every_screen():
    names = {c.__name__ for c in CLASSES}
    assert {"EvaltuiApp", "RunsScreen", "CompareScreen", "CaseScreen", "GateScreen", "StaleScreen",
            "HelpScreen", "OptionPicker", "TextPrompt", "ConfirmEffect", "Scoreboard",
            "CaseList"} <= names  # fmt: skip


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_binding_resolves_to_an_action_with_its_parameters(cls):
    for b in bindings(cls):
        assert b.id, f"{cls.__name__}: {b.key} has no id"
        assert b.description, f"{cls.__name__}: {b.key} has no description"
        target, name, params = parse(b.action)
        screens = [c for c in CLASSES if issubclass(c, Screen) and hasattr(c, f"action_{name}")]
        owner = {"app": EvaltuiApp, "screen": screens[0] if screens else cls}.get(target, cls)
        method = getattr(owner, f"action_{name}", None)
        assert method is not None, f"{cls.__name__}: {b.key} -> {b.action}: no action_{name}"
        inspect.signature(method).bind(None, *params)  # raises TypeError when they do not fit


def test_what_the_compare_keys_wait_for_is_data_next_to_the_bindings():
    """`check_action` reads ENABLED_WHEN: each action named there is bound, and each
    predicate named is a method of the screen (a typo fails here, not as a live key)."""
    from evaltui.tui.screens.compare_keys import ENABLED_WHEN

    bound = {parse(b.action)[1] for b in bindings(CompareScreen)}
    assert set(ENABLED_WHEN) <= bound, set(ENABLED_WHEN) - bound
    for action, predicate in ENABLED_WHEN.items():
        assert callable(getattr(CompareScreen, predicate, None)), (action, predicate)


def test_message_handlers_are_never_called_as_methods():
    """A handler runs when its message is handled; code that needs the same work calls
    a plain method both use (a handler called directly skips the message's checks)."""
    import ast

    for info in pkgutil.walk_packages(evaltui.tui.__path__, prefix="evaltui.tui."):
        module = importlib.import_module(info.name)
        tree = ast.parse(Path(module.__file__).read_text())
        handlers = {
            f.name
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef)
            and (f.name.startswith("on_") or any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "on"
                for d in f.decorator_list))
        }  # fmt: skip
        called = {
            c.func.attr
            for c in ast.walk(tree)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
        }
        assert not handlers & called, (info.name, handlers & called)


def test_binding_ids_are_unique():
    ids = [b.id for c in CLASSES for b in bindings(c)]
    assert len(ids) == len(set(ids))


QUITS = {"quit"}


def keys_of(cls: type) -> list[str]:
    """One key per binding of the screen and its bases (first of a comma list)."""
    out = []
    for base in reversed(cls.__mro__):
        for b in bindings(base):
            if parse(b.action)[1] not in QUITS:
                out.append(b.key.split(",")[0])
    return out


async def back_to(app, pilot, screen_type: type) -> bool:
    """Close whatever a key opened (dialogs, other screens) until `screen_type` is on top;
    False when the key left it (it is no longer on the stack)."""
    while not isinstance(app.screen, screen_type):
        if not any(isinstance(s, screen_type) for s in app.screen_stack):
            return False
        app.pop_screen()
        await settle(app, pilot, rounds=2)
    return True


async def press_all(app, pilot, screen_type: type, open_screen) -> list[str]:
    pressed = []
    for key in keys_of(screen_type):
        if not isinstance(app.screen, screen_type):
            await open_screen()
        await pilot.press(key)
        await settle(app, pilot, rounds=3)
        assert app.is_running, f"{screen_type.__name__}: the app stopped after {key!r}"
        pressed.append(key)
        if not await back_to(app, pilot, screen_type):  # the key left the screen (Esc)
            await open_screen()
    return pressed


@pytest.mark.parametrize("screen_type", [RunsScreen, CompareScreen, CaseScreen, GateScreen, StaleScreen],
                         ids=lambda c: c.__name__)  # fmt: skip
async def test_pressing_every_key_once_keeps_the_app_running(
    demo_store, db_path, tmp_path, monkeypatch, screen_type
):
    monkeypatch.chdir(tmp_path)  # the gate's export writes here
    gate.set_policy_path(demo_store, str(FIXTURES / "policies" / "support-assistant.toml"))
    sel = service.get_selection(demo_store)
    app = EvaltuiApp(db_path=db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)

        async def open_screen() -> None:
            while not isinstance(app.screen, RunsScreen):
                app.pop_screen()
                await settle(app, pilot, rounds=2)
            if screen_type is RunsScreen:
                return
            app.push_screen(CompareScreen(sel["baseline"], sel["candidate"], sel["fallback"]))
            await settle(app, pilot)
            if screen_type is CaseScreen:
                await pilot.press("o")
            elif screen_type is GateScreen:
                await pilot.press("g")
            elif screen_type is StaleScreen:
                await pilot.press("S")
            await settle(app, pilot)
            assert isinstance(app.screen, screen_type)

        await open_screen()
        pressed = await press_all(app, pilot, screen_type, open_screen)
        assert app.is_running
    assert len(pressed) == len(keys_of(screen_type)) > 2
