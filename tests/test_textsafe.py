from evaltui.textsafe import one_line, safe_text, visible

HOSTILE = "[bold]x[/] \x1b]52;c;aGk=\x07 \x1b]0;title\x1b\\ \x1b[31mred\x1b[0m \x9b31m \u202egnp.exe \u200b\x00\x08\r"


def test_visible_leaves_no_control_or_escape_characters():
    out = visible(HOSTILE)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in out)
    assert "\u202e" not in out and "\u200b" not in out
    assert "␛]52;c;aGk=␇" in out
    assert "␛[31mred" in out
    assert "\\x9b31m" in out
    assert "<U+202E>gnp.exe" in out
    assert "<U+200B>" in out and "␀" in out and "␈" in out and "␍" in out


def test_markup_stays_literal():
    assert safe_text("[bold]x[/]").plain == "[bold]x[/]"
    assert safe_text("[link=http://e.vil]y[/link]").spans == []


def test_multiline_keeps_newlines_only_when_asked():
    assert visible("a\nb\tc") == "a␊b␉c"
    assert visible("a\nb\tc", multiline=True) == "a\nb\tc"


def test_long_text_is_cut_with_a_marker():
    out = visible("x" * 1_000_000, limit=100)
    assert out.startswith("x" * 100)
    assert out.endswith("[999,900 more characters]")
    assert one_line("abcdef", 4) == "abc…"


def test_lone_surrogates_from_bad_bytes_are_shown_as_hex():
    bad = b"ok\xff".decode("utf-8", "surrogateescape")
    assert visible(bad) == "ok\\xff"
    visible(bad).encode("utf-8")  # must not raise
