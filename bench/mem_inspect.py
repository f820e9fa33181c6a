"""Peak memory of importing an Inspect `.eval` whose members each sit just under the
member limit (issue 24): 40 sample members of about 60 MB, each about 800 times its
compressed size (under EVALTUI_MAX_RATIO), so the 2-3 MB archive declares about 2.4 GB.

With the default limits the archive is refused before a member is read
(EVALTUI_MAX_ARCHIVE_RATIO); with that limit lifted it is imported, member by member, the
rows going to the store a few at a time: both peaks are printed, against the 300 MB goal.
A hostile input made here, not an imitation of a tool's log: a real header and sample
from the committed fixtures, the sample's output replaced.
"""

from __future__ import annotations

import json
import os
import random
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = 40
EACH = 60 << 20  # output bytes per member: under the 64 MiB member limit with the JSON around it
GAP = 5000  # a random letter about this often: zstd packs the text about 800-fold


def _text(size: int, seed: int) -> bytes:
    """`size` bytes of letters that zstd packs about 800-fold: runs of one letter with a
    random letter about every GAP bytes."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        block = bytearray(b"a" * (1 << 20))
        for i in range(0, len(block) - GAP, GAP):
            block[i + rng.randrange(GAP)] = rng.randrange(98, 123)
        out += block
    return bytes(out[:size])


def make_archive(
    dst: Path, members: int = MEMBERS, each: int = EACH, everywhere: bool = False
) -> None:
    """A zip whose members are Zstandard (zip method 93), as Inspect writes them: each
    sample's answer replaced by `each` bytes of text, in its output only, or (`everywhere`)
    in every place Inspect writes the answer (output, choices, messages, events, score),
    each copy then `each` / copies bytes so the member stays the same size."""
    import zstandard

    from evaltui.importers.inspect_ai import _read_member

    real = next((ROOT / "fixtures" / "inspect_ai" / "round3" / "limits").glob("*Zaiyoyc*.eval"))
    with zipfile.ZipFile(real) as zf:
        header = bytes(_read_member(real, zf, zf.getinfo("header.json")))
        sample = json.loads(
            bytes(_read_member(real, zf, zf.getinfo("samples/geo-001_epoch_1.json")))
        )
    answer = json.dumps(sample["output"]["completion"]).encode()
    if not everywhere:
        sample["output"]["completion"] = "{answer}"
        answer = b'"{answer}"'
    sizes: dict[str, tuple[int, int]] = {}
    packer = zstandard.ZstdCompressor(level=3)
    with zipfile.ZipFile(dst, "w") as out:
        out.writestr("header.json", header)
        for i in range(members):
            sample["id"] = f"big-{i:02d}"
            parts = json.dumps(sample).encode().split(answer)
            big = b'"' + _text(each // (len(parts) - 1), i) + b'"'
            raw = big.join(parts)
            name = f"samples/big-{i:02d}_epoch_1.json"
            sizes[name] = (zlib.crc32(raw), len(raw))
            out.writestr(name, packer.compress(raw), compress_type=zipfile.ZIP_STORED)
            del raw
    data = bytearray(dst.read_bytes())
    for sig, method_at, crc_at, name_len_at, name_at in (
        (b"PK\x03\x04", 8, 14, 26, 30), (b"PK\x01\x02", 10, 16, 28, 46)
    ):  # fmt: skip
        at = data.find(sig)
        while at >= 0:
            (name_len,) = struct.unpack_from("<H", data, at + name_len_at)
            name = bytes(data[at + name_at : at + name_at + name_len]).decode()
            if name in sizes:
                crc, size = sizes[name]
                (packed,) = struct.unpack_from("<I", data, at + crc_at + 4)
                struct.pack_into("<H", data, at + method_at, 93)
                struct.pack_into("<III", data, at + crc_at, crc, packed, size)
            at = data.find(sig, at + 4)
    dst.write_bytes(bytes(data))


def bench_mem_inspect(workdir: Path, figures: dict[str, Any]) -> None:
    """Print the peak RSS of importing the archive with the default limits (refused) and
    with EVALTUI_MAX_ARCHIVE_RATIO lifted (imported)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_run_steps", Path(__file__).with_name("run.py")
    )
    assert spec and spec.loader
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    run_step = harness.run_step
    one = workdir / f"inspect-{MEMBERS}x{EACH >> 20}mb-one.eval"
    spread = workdir / f"inspect-{MEMBERS}x{EACH >> 20}mb-everywhere.eval"
    for path, everywhere in ((one, False), (spread, True)):
        if not path.exists():
            make_archive(path, everywhere=everywhere)
    declared = sum(i.file_size for i in zipfile.ZipFile(one).infolist())
    print(f"memory, Inspect .eval of {MEMBERS} members just under the member limit "
          f"({one.stat().st_size / 1e6:.1f} MB on disk, {declared / 1e9:.2f} GB declared), limit 300 MB")  # fmt: skip
    lifted = {"EVALTUI_MAX_ARCHIVE_RATIO": "100000"}
    cases = [
        ("one 60 MB answer per member, default limits", one, {}),
        ("one 60 MB answer per member, archive ratio lifted", one, lifted),
        ("the answer in its 13 places (4.6 MB each), archive ratio lifted", spread, lifted),
    ]
    rows = []
    for label, archive, env in cases:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            out = run_step("memory-import", archive, workdir)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        peak = max(out["peak_rss_mb"], out["children_rss_mb"])
        rows.append(
            {
                "input": label,
                "peak_rss_mb": peak,
                "seconds": out["seconds"],
                "outcome": out["outcome"],
            }
        )
        print(f"  {label}: {peak:.0f} MB, {out['seconds']:.1f} s, {'OK' if peak < 300 else 'OVER'}; "
              f"{out['outcome'][:100]}")  # fmt: skip
    figures["memory_inspect"] = {"bytes": one.stat().st_size, "declared": declared, "imports": rows}
