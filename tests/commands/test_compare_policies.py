"""``hwsim run --compare-policies``: every policy beside the spill optimum."""

from __future__ import annotations

import json
import subprocess
import sys

from hwsim.schedule.spill import POLICIES

SPEC, GRAPH = "accelerators/edge_npu.yaml", "graphs/unet.json"


def hwsim(*args):
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True)


def test_every_policy_against_the_optimum():
    proc = hwsim("run", SPEC, GRAPH, "--set", "sram.size=8MiB", "--compare-policies", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["policies"]
    assert set(rows) == set(POLICIES)
    optimum = {r["optimum_bytes"] for r in rows.values()}
    assert len(optimum) == 1 and all(r["optimum_proven"] for r in rows.values())  # layer mode: one program
    for r in rows.values():  # no policy beats the proven optimum
        assert r["decided_bytes"] >= r["optimum_bytes"] and r["gap_pct"] >= 0
        assert set(r) >= {"spill_bytes", "dram_bytes", "latency_cycles", "gap_pct"}


def test_compare_policies_writes_no_files(tmp_path):
    proc = hwsim("run", SPEC, GRAPH, "--compare-policies", "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stderr.startswith("hwsim: error:") and "--compare-policies" in proc.stderr
    assert not (tmp_path / "out").exists()
