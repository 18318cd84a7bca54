"""The simulator runs without Home Assistant: no `hass` fixture here."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scenario import Scenario, parse_scenario


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite-wide fixture: nothing here needs a Home Assistant instance."""


# Every top-level key on one line, so that `scenario_from` can replace any of them.
SMALL = """
name: small
duration_h: 1
start: "18:00"
step_s: 1
seed: 3
site: {phases: 3, voltage_v: 230, grid: TN, fuse_a: 25, margin_a: 0, failsafe_a: 6}
meter: {includes_chargers: true, interval_s: 1, delay_s: 0, timeout_s: 10}
chargers: [{id: a, phases: 3, wiring: L1L2L3, min_a: 6, max_a: 16, reaction_s: 4, report_interval_s: 10}, {id: b, phases: 3, wiring: L2L3L1, min_a: 6, max_a: 16, reaction_s: 4, report_interval_s: 10}]
building_load: {profile: residential, peak_a: 0}
sessions: [{charger: a, arrive: "18:00", depart: "19:30", energy_kwh: 50, ev_phases: 3, ev_max_a: 16}, {charger: b, arrive: "18:00", depart: "19:30", energy_kwh: 50, ev_phases: 1, ev_max_a: 16}]
"""


def scenario_from(text: str, **changes: object) -> Scenario:
    """Parse `text` after setting one-line top-level keys (values in YAML flow style)."""
    lines = text.splitlines()
    for key, value in changes.items():
        kept = [line for line in lines if not line.startswith(f"{key}:")]
        lines = [*kept, f"{key}: {value}"]
    return parse_scenario("\n".join(lines), source=Path("test.yaml"))


@pytest.fixture
def small() -> Scenario:
    return scenario_from(SMALL)
