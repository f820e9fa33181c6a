"""README "What users will see": the commands run as written and say what the README says
(#28): the eval set's rates, the production estimate's, the uncovered share, the trend's
production row, a margin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_the_readmes_production_section_holds(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What users will see: the production estimate", 1)[1]
    section = section.split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands[0].startswith("export EVALTUI_DB=")
    env = {**os.environ, "EVALTUI_DB": str(tmp_path / "production.db"), "COLUMNS": "200"}
    evaltui = str(Path(sys.executable).parent / "evaltui")
    out = {}
    for cmd in commands[1:]:
        done = subprocess.run([evaltui, *cmd.split()[1:]], capture_output=True, text=True,
                              env=env, cwd=ROOT)  # fmt: skip
        assert done.returncode == 0, (cmd, done.stderr)  # the gate ships: exit 0
        out[cmd.split()[1]] = done.stdout
    compare = out["compare"]
    all_row = next(x for x in compare.splitlines() if x.split()[:1] == ["all"])
    assert "74.4%" in all_row and "75.0%" in all_row and "+0.6" in all_row
    assert re.search(
        r"production estimate \(traffic demo-traffic #1, 2026-11-01/2026-11-30\): candidate "
        r"89\.0% \([\d.]+%-[\d.]+%\); baseline 82\.1% \([\d.]+%-[\d.]+%\); "
        r"delta \+6\.9 pts \(\+1\.3 to \+11\.7\)",
        " ".join(compare.split()),
    ), compare
    assert "uncovered traffic 0.5% (task=policy, risk=high)" in compare
    trend = out["trend"].splitlines()  # first, last, lowest: the baseline's, the candidate's
    row = next(x for x in trend if x.startswith("production (demo-traffic #1)"))
    assert row.split()[-3:] == ["82.1%", "89.0%", "82.1%"]
    assert "production (demo-traffic #1) 82.1% then 89.0%" in block
    gate = " ".join(out["gate"].split())
    assert gate.startswith("decision: SHIP")
    assert "3 more regressions in task=account_access, risk=low would make it fail" in gate
    assert "108 high-risk cases of 360" in section and "traffic.csv" in section
