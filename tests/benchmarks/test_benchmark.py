"""The benchmark's table and plots, from one short run per strategy."""

from __future__ import annotations

from pathlib import Path

from benchmarks.benchmark import RUNS, plot_scenario, run_one, synthetic_scenario, table

from .conftest import SMALL


def test_table_and_plot(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.replace("duration_h: 1", "duration_h: 0.1"), encoding="utf-8")
    done = {strategy: run_one(path, strategy) for strategy in RUNS}
    text = table([metrics for metrics, _ in done.values()])
    lines = text.splitlines()
    assert len(lines) == 2 + len(RUNS)
    assert lines[2].startswith("| small | equal_share | ")
    assert {line.count("|") for line in lines} == {15}
    plot_scenario("small", {s: plot for s, (_, plot) in done.items()}, tmp_path)
    assert (tmp_path / "small.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_synthetic_scenario_for_timing() -> None:
    scenario = synthetic_scenario(500)
    assert len(scenario.chargers) == 500
    assert len(scenario.groups) == 10
    assert scenario.chargers[0].id == "g0-01"
