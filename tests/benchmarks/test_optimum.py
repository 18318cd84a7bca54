"""The offline optimum on cases small enough to solve by hand."""

from __future__ import annotations

import pytest

from benchmarks.optimum import offline_optimum_kwh
from benchmarks.sim import simulate

from .conftest import SMALL, scenario_from

TWO_HOURS = {"duration_h": 2, "step_s": 10, "site": "{fuse_a: 20, margin_a: 0}"}


def _session(charger: str, energy_kwh: float, ev_phases: int) -> str:
    return (
        f'{{charger: {charger}, arrive: "18:00", depart: "20:00", energy_kwh: {energy_kwh}, '
        f"ev_phases: {ev_phases}, ev_max_a: 16}}"
    )


@pytest.mark.parametrize(
    ("sessions", "kwh"),
    [
        # One 3-phase car: its own maximum, 16 A x 3 x 230 V for 2 h.
        ([("a", 100, 3)], 16 * 690 * 2 / 1000),
        # Two 3-phase cars share 20 A per line.
        ([("a", 100, 3), ("b", 100, 3)], 20 * 690 * 2 / 1000),
        # b (wired L2L3L1) with a 1-phase car loads only L2, where a leaves 4 A.
        ([("a", 100, 3), ("b", 100, 1)], (16 * 690 + 4 * 230) * 2 / 1000),
        # a's car wants only 5 kWh: spread thin, it leaves b's car its maximum all along.
        ([("a", 5, 3), ("b", 100, 1)], 5 + 16 * 230 * 2 / 1000),
    ],
)
def test_optimum_by_hand(sessions: list[tuple[str, float, int]], kwh: float) -> None:
    text = "[" + ", ".join(_session(*s) for s in sessions) + "]"
    run = simulate(scenario_from(SMALL, sessions=text, **TWO_HOURS), "static")
    assert offline_optimum_kwh(run, 300) == pytest.approx(kwh, rel=1e-6)


def test_margin_reduces_the_optimum() -> None:
    changes = {**TWO_HOURS, "site": "{fuse_a: 20, margin_a: 2}"}
    both = "[" + _session("a", 100, 3) + ", " + _session("b", 100, 3) + "]"
    run = simulate(scenario_from(SMALL, sessions=both, **changes), "static")
    # The site is metered, so the controller keeps the margin: 18 A per line for 2 h.
    assert offline_optimum_kwh(run, 900) == pytest.approx(18 * 690 * 2 / 1000)


def test_building_load_reduces_the_optimum() -> None:
    changes = {**TWO_HOURS, "building_load": "{profile: office, peak_a: 0}"}
    changes["faults"] = '[{type: load_step, at: "19:00", amps: [20, 0, 0]}]'
    run = simulate(
        scenario_from(SMALL, sessions="[" + _session("a", 100, 3) + "]", **changes), "static"
    )
    # From 19:00 the building takes all of L1: a 3-phase car gets nothing more.
    assert offline_optimum_kwh(run, 300) == pytest.approx(16 * 690 * 1 / 1000)
