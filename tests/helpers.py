"""Small builders for native-format test files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def line(case_key: str, verdict: str = "pass", **extra: Any) -> dict[str, Any]:
    return {
        "suite": "s",
        "case_key": case_key,
        "input": f"in {case_key}",
        "verdict": verdict,
        **extra,
    }


def write_jsonl(
    path: Path, rows: list[dict[str, Any]], header: dict[str, Any] | None = None
) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        if header is not None:
            fh.write(json.dumps({"run": header}) + "\n")
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path
