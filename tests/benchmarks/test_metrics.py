"""Metrics on tiny runs whose figures are worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.metrics import avoidable_mask, compute_metrics, jain, longest_run, peak_quarter_kw
from benchmarks.scenario import Scenario
from benchmarks.sim import Run
from benchmarks.site import site_config
from benchmarks.world import expand_sessions

from .conftest import SMALL, scenario_from


@pytest.mark.parametrize(
    ("values", "index"),
    [([1, 1, 1], 1.0), ([1, 0], 0.5), ([1, 0, 0, 0], 0.25), ([], 1.0), ([0, 0], 1.0)],
)
def test_jain(values: list[float], index: float) -> None:
    assert jain(values) == pytest.approx(index)


def test_longest_run_per_column() -> None:
    mask = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 1]], dtype=bool)
    assert longest_run(mask) == 4
    assert longest_run(np.zeros((3, 2), dtype=bool)) == 0


def test_avoidable_mask_hides_rise_windows_and_own_excess() -> None:
    nonev = np.array([30, 0, 0, 10, 10, 10, 10, 10], dtype=float)[:, None]
    limit = np.array([25.0])
    mask = avoidable_mask(nonev, limit, window_steps=3)[:, 0]
    # Step 0: non-EV alone is over the limit; steps 3-5: the window after the rise at step 3.
    assert mask.tolist() == [False, True, True, False, False, False, True, True]


@pytest.mark.parametrize(
    ("start", "peak"),
    [
        ("00:00", 20.0),
        # 00:07: quarters start at 480 s, 1380 s...; the best one holds 420 s of 20 kW, 480 of 15.
        ("00:07", (20 * 420 + 15 * 480) / 900),
        ("00:10", (20 * 600 + 15 * 300) / 900),
    ],
)
def test_peak_quarter_uses_wall_clock_quarters(start: str, peak: float) -> None:
    power = np.concatenate([np.full(900, 10.0), np.full(900, 20.0), np.full(900, 15.0)])
    hours, minutes = map(int, start.split(":"))
    assert peak_quarter_kw(power, hours * 3600 + minutes * 60, 1.0) == pytest.approx(peak)


def _run(scenario: Scenario) -> Run:
    steps = scenario.steps
    nonev = np.zeros((steps, 1, 3))
    nonev[3:, 0, 0] = 10.0  # a rise of 10 A on L1 at step 3
    nonev[:2, 0, 1] = 30.0  # L2: non-EV load alone above the 25 A fuse
    current = nonev.copy()
    current[:15, 0, 0] += 20.0  # the chargers add 20 A on L1 until step 15 ...
    current[15:, 0, 0] += 10.0  # ... then 10 A
    return Run(
        scenario=scenario,
        strategy="equal_share",
        config=site_config(scenario, "equal_share"),
        node_ids=("site",),
        node_limit_a=np.array([[25.0, 25.0, 25.0]]),
        node_current_a=current,
        node_nonev_a=nonev,
        site_power_kw=np.full(steps, 10.0),
        offered_a=np.zeros((steps, 2), dtype=np.float32),
        sessions=expand_sessions(scenario),
        delivered_kwh=np.array([49.6, 25.0]),
        limit_changes=4,
        failsafe_s=3.0,
        cycle_ns=np.array([1000, 2000, 3000]),
        wall_s=0.5,
    )


def test_metrics_by_hand() -> None:
    scenario = scenario_from(SMALL, duration_h=20 / 3600)
    m = compute_metrics(_run(scenario), optimum_kwh=100.0)
    assert m["energy_requested_kwh"] == 100
    assert m["energy_delivered_kwh"] == pytest.approx(74.6)
    assert m["energy_ratio"] == pytest.approx(0.746)
    assert (m["sessions_total"], m["sessions_satisfied"], m["satisfied_ratio"]) == (2, 1, 0.5)
    assert m["satisfied_ratio_by_priority"] == {"0": 0.5}
    # L1: 5 A over for steps 3-14 (60 A·s); L2: 5 A over for steps 0-1 (10 A·s).
    assert m["overload_amp_seconds"] == pytest.approx(70)
    # The window after the rise at step 3 is 4 s reaction + 1 s meter + 0 s delay + 2 s = 7
    # steps (3-9); L2's excess is the building's own: 5 A over on steps 10-14 remains.
    assert m["overload_avoidable_amp_seconds"] == pytest.approx(25)
    assert (m["overload_max_a"], m["overload_longest_s"]) == (5, 12)
    assert m["failsafe_seconds"] == 3
    assert m["peak_15min_kw"] == 10
    x = np.array([49.6 / 50, 25 / 50])
    assert m["fairness_jain"] == pytest.approx(x.sum() ** 2 / (2 * (x * x).sum()), abs=1e-4)
    assert m["limit_changes_per_charger_hour"] == pytest.approx(4 / 2 / (20 / 3600))
    assert (m["optimum_kwh"], m["optimum_ratio"]) == (100, 0.746)
    assert (m["wall_s"], m["cycles"], m["cycle_us_p50"]) == (0.5, 3, 2.0)
    assert m["cycle_us_p99"] == pytest.approx(2.98, abs=0.05)


def test_a_charger_drawing_above_its_limit_opens_a_reaction_window() -> None:
    scenario = scenario_from(SMALL, duration_h=20 / 3600)
    run = _run(scenario)
    # The same excess on L1, but from step 12 on, 10 A of it is a charger ignoring its limit.
    uncontrolled = run.node_nonev_a.copy()
    uncontrolled[12:, 0, 0] += 10.0
    m = compute_metrics(replace(run, node_uncontrolled_a=uncontrolled), optimum_kwh=100.0)
    # Steps 12-14 fall in the window after that rise: 15 of the 25 A·s are no longer avoidable.
    assert m["overload_avoidable_amp_seconds"] == pytest.approx(10)
