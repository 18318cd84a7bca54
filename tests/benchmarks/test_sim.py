"""The simulated world: wiring, delays, energy, faults, and one short run of the real engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import simulate as cli
from benchmarks.sim import simulate

from .conftest import SMALL, scenario_from

METRIC_KEYS = {
    "energy_requested_kwh",
    "energy_delivered_kwh",
    "energy_ratio",
    "sessions_total",
    "sessions_satisfied",
    "satisfied_ratio",
    "satisfied_ratio_by_priority",
    "overload_amp_seconds",
    "overload_avoidable_amp_seconds",
    "overload_max_a",
    "overload_longest_s",
    "failsafe_seconds",
    "peak_15min_kw",
    "fairness_jain",
    "limit_changes_per_charger_hour",
    "optimum_ratio",
    "wall_s",
    "cycles",
    "cycle_us_p50",
    "cycle_us_p99",
}
SHORT = {"duration_h": 0.25}


def test_limits_apply_after_the_reaction_delay_and_follow_wiring() -> None:
    run = simulate(scenario_from(SMALL, **SHORT), "static")
    # The first cycle runs on the reading of second 1; until its limit lands 4 s later the
    # chargers offer the failsafe current, then 25/2 A.
    assert run.offered_a[:5, 0].tolist() == [6.0] * 5
    assert run.offered_a[5:, 0] == pytest.approx(12.5)
    # a: 3-phase car on L1L2L3; b: 1-phase car on its first conductor, wired to L2.
    assert run.node_current_a[100, 0] == pytest.approx([12.5, 25.0, 12.5])
    assert run.site_power_kw[100] == pytest.approx(12.5 * 230 * 4 / 1000)
    a_kwh = (6.0 * 5 + 12.5 * (900 - 5)) * 690 / 3.6e6
    assert run.delivered_kwh[0] == pytest.approx(a_kwh)


def test_it_single_phase_charger_loads_both_lines() -> None:
    scenario = scenario_from(
        SMALL,
        **SHORT,
        site="{grid: IT, fuse_a: 32, margin_a: 0}",
        chargers="[{id: a, phases: 1, wiring: L3L1, max_a: 16, reaction_s: 0}]",
        sessions='[{charger: a, arrive: "18:00", depart: "19:00", energy_kwh: 50}]',
    )
    run = simulate(scenario, "static")
    assert run.node_current_a[100, 0] == pytest.approx([16.0, 0.0, 16.0])
    assert run.site_power_kw[100] == pytest.approx(16 * 230 / 1000)


def test_taper_ends_at_the_energy_wanted() -> None:
    scenario = scenario_from(
        SMALL,
        **SHORT,
        sessions='[{charger: a, arrive: "18:00", depart: "19:00", energy_kwh: 0.5, ev_max_a: 16}]',
    )
    run = simulate(scenario, "static")
    assert run.delivered_kwh[0] == pytest.approx(0.5)
    l1 = run.node_current_a[:, 0, 0]
    # Full current at first, less towards the end, nothing once full.
    assert l1[100] == pytest.approx(12.5)
    assert 0 < l1[np.flatnonzero(l1)[-1]] < 12.5
    assert l1[-1] == 0


def test_faults_offline_and_ignoring_chargers() -> None:
    scenario = scenario_from(
        SMALL,
        **SHORT,
        faults='[{type: charger_offline, charger: a, at: "18:00", minutes: 5}, '
        "{type: ignores_limits, charger: b}]",
    )
    run = simulate(scenario, "static")
    # a never hears from the controller while offline: failsafe offer until it is back (+4 s).
    assert run.offered_a[:304, 0] == pytest.approx(6.0)
    assert run.offered_a[305:, 0] == pytest.approx(12.5)
    assert run.offered_a[:, 1] == pytest.approx(16.0)


def test_meter_dropout_puts_the_site_on_failsafe() -> None:
    scenario = scenario_from(
        SMALL, **SHORT, meter='{timeout_s: 10, dropouts: [{at: "18:05", minutes: 5}]}'
    )
    run = simulate(scenario, "worst_phase_fcfs")
    # The last reading is from 18:04:59; stale after 10 s, until a reading comes at 18:10:00.
    assert run.failsafe_s == pytest.approx(300 - 10, abs=2)


def test_runs_are_deterministic() -> None:
    scenario = scenario_from(
        SMALL,
        **SHORT,
        building_load="{profile: office, peak_a: 8, spikes: {per_hour: 30, amps: [2, 9], minutes: 1}}",
    )
    first, again = simulate(scenario, "worst_phase_fcfs"), simulate(scenario, "worst_phase_fcfs")
    assert np.array_equal(first.node_current_a, again.node_current_a)
    assert np.array_equal(first.delivered_kwh, again.delivered_kwh)


@pytest.mark.parametrize("strategy", ["equal_share", "first_come", "static", "worst_phase_fcfs"])
def test_cli_json_has_every_metric(
    strategy: str, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.replace("duration_h: 1", "duration_h: 0.1"), encoding="utf-8")
    assert cli.main([str(path), "--strategy", strategy, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics.keys() >= METRIC_KEYS
    assert metrics["strategy"] == strategy
    assert 0 < metrics["energy_delivered_kwh"] <= metrics["optimum_kwh"] + 1e-6
    assert metrics["cycles"] > 0


def test_cli_reports_scenario_errors(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL.replace("fuse_a: 25", "fuse_a: lots"), encoding="utf-8")
    assert cli.main([str(path)]) == 2
    assert "site.fuse_a: got 'lots', expected a number >= 0" in capsys.readouterr().err
