"""Decompression bombs in Inspect .eval archives are refused before they reach memory."""

from __future__ import annotations

import resource
import struct
import zipfile
from pathlib import Path

import pytest
import zstandard

from evaltui import service
from evaltui.errors import InputError
from evaltui.importers.inspect_ai import _read_member

from .conftest import FIXTURES

GOOD = next((FIXTURES / "inspect_ai" / "candidate").glob("*.eval"))
SIZE = 64 << 20  # 64 MiB of zeros: a few KB compressed


def _patch_sizes(data: bytearray, name: bytes, claimed: int, method: int | None = None) -> None:
    """Rewrite a member's declared uncompressed size (and method) in both zip headers."""
    local = data.find(b"PK\x03\x04")
    while local != -1:
        n = struct.unpack("<H", data[local + 26 : local + 28])[0]
        if data[local + 30 : local + 30 + n] == name:
            if method is not None:
                data[local + 8 : local + 10] = struct.pack("<H", method)
            data[local + 22 : local + 26] = struct.pack("<I", claimed)
            break
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        n = struct.unpack("<H", data[central + 28 : central + 30])[0]
        if data[central + 46 : central + 46 + n] == name:
            if method is not None:
                data[central + 10 : central + 12] = struct.pack("<H", method)
            data[central + 24 : central + 28] = struct.pack("<I", claimed)
            break
        central = data.find(b"PK\x01\x02", central + 4)


def bomb(tmp_path: Path, *, zstd: bool, claimed: int | None = None) -> Path:
    """The real fixture with its first sample replaced by 64 MiB of zeros."""
    out = tmp_path / ("zstd-bomb.eval" if zstd else "deflate-bomb.eval")
    with zipfile.ZipFile(GOOD) as src, zipfile.ZipFile(out, "w") as dst:
        victim = next(i.filename for i in src.infolist() if i.filename.startswith("samples/"))
        for info in src.infolist():
            if info.filename != victim:
                dst.writestr(
                    info.filename, _read_member(GOOD, src, info), compress_type=zipfile.ZIP_DEFLATED
                )
        if zstd:  # stored, then marked as Zstandard (method 93) as Inspect writes it
            packed = zstandard.ZstdCompressor().compress(b"\0" * SIZE)
            dst.writestr(victim, packed, compress_type=zipfile.ZIP_STORED)
        else:
            dst.writestr(victim, b"\0" * SIZE, compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(out.read_bytes())
    _patch_sizes(data, victim.encode(), SIZE if claimed is None else claimed, 93 if zstd else None)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("zstd", [True, False], ids=["zstd", "deflate"])
@pytest.mark.parametrize("claimed", [None, 100], ids=["honest-header", "lying-header"])
def test_a_bomb_is_refused_with_bounded_memory(store, tmp_path, zstd, claimed):
    path = bomb(tmp_path, zstd=zstd, claimed=claimed)
    assert path.stat().st_size < 2 << 20
    before = store.dump()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError) as info:
        service.import_path(store, path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    message = info.value.message
    assert str(path) in str(info.value) and info.value.location.startswith("samples/")
    if claimed is None:
        assert "expands" in message and "-fold" in message  # refused from the header, unread
    elif zstd:
        assert "past the 100 bytes its zip header declares" in message
    else:  # the stdlib stops at the declared size, then the CRC fails
        assert "Bad CRC-32" in message
    assert grown_mb < 40, grown_mb  # never the 64 MiB, let alone a 3 GiB bomb
    assert store.dump() == before


def test_the_member_limit_is_configurable(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_MEMBER_BYTES", "1000")
    with pytest.raises(InputError, match=r"over the limit of 1,000 \(EVALTUI_MAX_MEMBER_BYTES\)"):
        service.import_path(store, GOOD)
    monkeypatch.delenv("EVALTUI_MAX_MEMBER_BYTES")
    (out,) = service.import_path(store, GOOD)
    assert out.results > 0


def test_a_huge_single_line_is_refused_before_it_fills_memory(store, tmp_path, monkeypatch):
    import json
    import subprocess
    import sys

    monkeypatch.setenv("EVALTUI_MAX_LINE_BYTES", str(1 << 20))
    path = tmp_path / "one-line.jsonl"
    with path.open("w") as fh:
        fh.write(
            json.dumps({"suite": "s", "case_key": "a", "input": "x", "verdict": "pass"}) + "\n"
        )
        fh.write('{"suite": "s", "case_key": "b", "input": "' + "x" * (60 << 20) + '"}\n')
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, path, fmt="native")
    assert info.value.location == "line 2" and "longer than 1,048,576 bytes" in info.value.message
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024 < 40
    assert store.dump() == before
    # the CLI says it in one line, exit 2
    evaltui = Path(sys.executable).parent / "evaltui"
    done = subprocess.run([str(evaltui), "--db", str(tmp_path / "s.db"), "import", "--format", "native",
                           str(path)], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"Error: {path}, line 2: the line is longer than")
    assert not (tmp_path / "s.db").exists()  # a failed import leaves no store behind


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [("EVALTUI_MAX_MEMBERS", "3", "the limits are 3 (EVALTUI_MAX_MEMBERS)"),
     ("EVALTUI_MAX_ARCHIVE_BYTES", "2000", "and 2,000 bytes (EVALTUI_MAX_ARCHIVE_BYTES)")],
    ids=["members", "archive-bytes"],
)  # fmt: skip
def test_archive_wide_limits(store, monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, GOOD)
    assert message in info.value.message and str(GOOD) in str(info.value)
    assert store.dump() == before
