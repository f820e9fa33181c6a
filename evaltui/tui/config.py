"""The app's config file: a keymap and a theme, read and checked before the app starts.

    # ~/.config/evaltui/config.toml (platformdirs' user config dir), or $EVALTUI_CONFIG
    theme = "evaltui-light"
    [keymap]
    "compare.next" = "j,down"
    "compare.gate" = "ctrl+g"

The file is untrusted input like any other: an unknown binding id, a key that is not a
key, a key two bindings of one screen would share, an unknown theme or any other field
is refused with one line naming the file, the line and the field (exit 2), never guessed
around. A missing file is no config.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from textual.app import App
from textual.binding import Binding
from textual.keys import KEY_DISPLAY_ALIASES, Keys, _character_to_key, _normalize_key_list
from textual.theme import BUILTIN_THEMES
from textual.widget import Widget

import evaltui.tui
from evaltui.errors import InputError
from evaltui.files import env_limit, read_regular

CONFIG_ENV = "EVALTUI_CONFIG"
MAX_CONFIG_BYTES = 64 * 1024  # EVALTUI_MAX_CONFIG_BYTES overrides
CONFIG_LIMIT_ENV = "EVALTUI_MAX_CONFIG_BYTES"
MODIFIERS = ("ctrl", "shift", "alt", "super", "meta")
# The names a key can have (what Textual reports on a key press), modifiers aside: a
# printable ASCII character, a named key (escape, up, pagedown, f1-f24, ...), or a sign
# by its name (question_mark, slash, left_square_bracket, ...). Anything else, `banana`
# or `f99`, is no key: a binding on it could never act.
KEY_NAMES = frozenset(
    [chr(c) for c in range(0x21, 0x7F)]
    + [k.value for k in Keys if "+" not in k.value and not k.value.startswith("<")]
    + [_character_to_key(c) for c in string.punctuation + " "]
)


def key_problem(key: str) -> str | None:
    """Why `key` (one key of a keymap entry, as written) is not a key, or None."""
    *mods, name = key.split("+") if len(key) > 1 else [key]
    if not name:
        return f"{key!r} is not a key name: it ends in '+' (e.g. ctrl+n)"
    unknown = next((m for m in mods if m not in MODIFIERS), None)
    if unknown is not None:
        return f"{key!r} is not a key name: {unknown!r} is not a modifier ({', '.join(MODIFIERS)})"
    if name not in KEY_NAMES:
        shown = {v: k for k, v in KEY_DISPLAY_ALIASES.items() if len(v) > 1}  # esc, pgdn
        near = [n for n in (name.lower(), shown.get(name.lower())) if n in KEY_NAMES][:1]
        near = near or difflib.get_close_matches(
            name, sorted(KEY_NAMES - set(string.printable)), 1, 0.7
        )
        return (
            f"{key!r} is not a key name: {name!r} is no key (a letter, digit or sign, f1-f24, "
            "up, down, left, right, home, end, pageup, pagedown, enter, escape, tab, space, ...)"
            + (f"; did you mean {near[0]!r}?" if near else "")
        )
    return None


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    theme: str | None = None


def config_limit() -> int:
    return env_limit(CONFIG_LIMIT_ENV, MAX_CONFIG_BYTES)


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("evaltui", appauthor=False)) / "config.toml"


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1


def load(bindings: dict[str, dict[str, str]], themes: set[str], path: Path | None = None) -> Config:
    """Read and check the config. `bindings`: screen -> {binding id: its keys}."""
    path = path or config_path()
    if not path.exists():
        if os.environ.get(CONFIG_ENV):
            raise InputError(str(path), f"{CONFIG_ENV} names a file that does not exist")
        return Config()
    # a regular file, bounded, read once: a FIFO, /dev/zero or a 3 GB file is refused
    # before a byte is read (it used to hang the app at start or run out of memory)
    raw = read_regular(path, "config file", config_limit())
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+)", str(exc))  # "... (at line L, column C)"
        raise InputError(
            f"{path}:{where[1]}" if where else str(path), f"not valid TOML: {exc}"
        ) from None

    def bad(name: str, why: str) -> InputError:
        return InputError(f"{path}:{_line_of(text, name)}", f"{name}: {why}")

    unknown = sorted(set(data) - {"keymap", "theme"})
    if unknown:
        raise bad(unknown[0], "unknown field (known: keymap, theme)")
    theme = data.get("theme")
    if theme is not None and (not isinstance(theme, str) or theme not in themes):
        raise bad("theme", f"unknown theme {theme!r}; use one of {', '.join(sorted(themes))}")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise bad("keymap", 'must be a table of binding id = "keys"')
    owner = {bid: screen for screen, ids in bindings.items() for bid in ids}
    for bid, keys in keymap.items():
        if bid not in owner:
            raise bad(bid, "unknown binding id (help, `?`, lists each screen's ids)")
        if not isinstance(keys, str) or not keys.strip():
            raise bad(bid, 'keys must be a string such as "j" or "ctrl+n,down"')
        for key in keys.split(","):
            problem = key_problem(key.strip())
            if problem:
                raise bad(bid, problem)
    normal = {bid: _normalize_key_list(keys.replace(" ", "")) for bid, keys in keymap.items()}
    for bid, keys in normal.items():
        listed = keys.split(",")
        twice = next((k for i, k in enumerate(listed) if k in listed[:i]), None)
        if twice is not None:
            raise bad(bid, f"key {twice!r} is listed twice; list each key once")
    # A remapped binding on a key another binding of the same screen (or the app's,
    # which every screen has) already answers to: the remapped one is named. Defaults
    # that overlap on purpose (a dialog's q closes it) are not the keymap's doing.
    for screen, ids in bindings.items():
        if screen == "app":
            continue
        holders: dict[str, list[str]] = {}
        for bid, keys in {**bindings["app"], **ids}.items():
            for key in _normalize_key_list(normal.get(bid, keys)).split(","):
                holders.setdefault(key, []).append(bid)
        for key, bids in holders.items():
            moved = [b for b in bids if b in normal]
            if len(bids) > 1 and moved:
                other = next((b for b in bids if b != moved[-1]), moved[-1])
                raise bad(moved[-1], f"key {key!r} is already {other}'s on the {screen} screen")
    return Config(path, normal, theme)


def binding_ids() -> dict[str, dict[str, str]]:
    """Every screen's and widget's bindings, walked from the package (not listed):
    class name -> {binding id: keys}; "app" for the app's own."""

    out: dict[str, dict[str, str]] = {}
    for info in pkgutil.walk_packages(evaltui.tui.__path__, prefix="evaltui.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, Widget | App):
                continue
            own = {
                b.id: b.key
                for b in cls.__dict__.get("BINDINGS", [])
                if isinstance(b, Binding) and b.id
            }
            if own:
                out["app" if issubclass(cls, App) else cls.__name__] = own
    return out


def load_checked() -> Config:
    """The config in force, checked against the app's real bindings and themes (walked
    only when there is a file to check)."""
    path = config_path()
    if not path.exists() and not os.environ.get(CONFIG_ENV):
        return Config()

    return load(binding_ids(), set(BUILTIN_THEMES), path)
