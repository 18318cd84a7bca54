"""Scenario files: every key, `generate` expansion, and errors that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.scenario import DAY_S, ScenarioError, load_scenario, parse_scenario
from benchmarks.world import expand_sessions, node_loads
from custom_components.ev_load_balancer.balancing.model import GridType, Line

from .conftest import SMALL, scenario_from

SCENARIOS = Path(__file__).parents[2] / "benchmarks" / "scenarios"

# The example of BENCHMARK.md section 2, key for key.
CONTRACT = """
name: brf-63a-50ev
duration_h: 24
start: "12:00"
step_s: 1
seed: 7
site:
  phases: 3
  voltage_v: 230
  grid: TN
  fuse_a: 63
  margin_a: 2
  failsafe_a: 6
meter:
  includes_chargers: true
  interval_s: 1
  delay_s: 0.5
  timeout_s: 10
  dropouts: [{at: "22:00", minutes: 5}]
groups:
  - {id: garage-a, parent: site, limit_a: 40}
chargers:
  - {id: guest, group: garage-a, phases: 3, wiring: L1L2L3, min_a: 6, max_a: 16,
     priority: 0, reaction_s: 5, report_interval_s: 10}
  - generate: {count: 49, prefix: cp, group: garage-a, phases: 3, wiring: rotate, min_a: 6,
               max_a: 16, priority: 0, reaction_s: 5, report_interval_s: 10}
building_load:
  profile: residential
  peak_a: [35, 30, 32]
  spikes: {per_hour: 3, amps: [5, 20], minutes: [1, 15]}
sessions:
  - {charger: guest, arrive: "17:10", depart: "07:30", energy_kwh: 22, ev_phases: 3, ev_max_a: 16}
  - generate: {count: 49, arrive: ["16:00", "20:00"], depart: ["06:00", "08:00"],
               energy_kwh: [2, 14], ev_phases: {3: 0.7, 1: 0.3}, ev_max_a: [16, 32]}
controller:
  strategy: equal_share
"""


def test_contract_example_every_key() -> None:
    s = parse_scenario(CONTRACT)
    assert (s.name, s.duration_h, s.start_tod_s, s.step_s, s.seed) == (
        "brf-63a-50ev",
        24,
        43200,
        1,
        7,
    )
    assert s.steps == 86400
    assert (s.site.phases, s.site.voltage_v, s.site.grid) == (3, 230, GridType.TN)
    assert (s.site.fuse_a, s.site.margin_a, s.site.failsafe_a) == ((63, 63, 63), 2, 6)
    assert (s.meter.includes_chargers, s.meter.interval_s, s.meter.delay_s) == (True, 1, 0.5)
    assert s.meter.timeout_s == 10
    assert [(d.at_tod_s, d.minutes) for d in s.meter.dropouts] == [(22 * 3600, 5)]
    assert [(g.id, g.parent, g.limit_a) for g in s.groups] == [("garage-a", "site", (40, 40, 40))]
    guest = s.chargers[0]
    assert (guest.id, guest.group, guest.phases, guest.wiring) == (
        "guest",
        "garage-a",
        3,
        (Line.L1, Line.L2, Line.L3),
    )
    assert (guest.min_a, guest.max_a, guest.priority, guest.reaction_s) == (6, 16, 0, 5)
    assert guest.report_interval_s == 10
    assert s.building_load.profile == "residential"
    assert s.building_load.peak_a == (35, 30, 32)
    spikes = s.building_load.spikes[0]
    assert (spikes.per_hour, spikes.amps, spikes.minutes) == (3, (5, 20), (1, 15))
    explicit = s.sessions[0]
    assert (explicit.charger, explicit.arrive_tod_s, explicit.depart_tod_s) == (
        "guest",
        17 * 3600 + 600,
        7 * 3600 + 1800,
    )
    assert (explicit.energy_kwh, explicit.ev_phases, explicit.ev_max_a) == (22, 3, 16)
    gen = s.session_gens[0]
    assert (gen.count, gen.arrive, gen.depart) == (49, (16 * 3600, 20 * 3600), (6 * 3600, 8 * 3600))
    assert (gen.energy_kwh, gen.ev_phases, gen.ev_max_a) == (
        (2, 14),
        ((3, 0.7), (1, 0.3)),
        (16, 32),
    )
    assert s.controller.strategy == "equal_share"
    assert s.controller.settings.meter_timeout_s == 10


def test_generate_chargers_names_and_rotation() -> None:
    s = parse_scenario(CONTRACT)
    cps = s.chargers[1:]
    assert [c.id for c in cps[:3]] == ["cp01", "cp02", "cp03"]
    assert cps[-1].id == "cp49"
    l1, l2, l3 = Line.L1, Line.L2, Line.L3
    assert [c.wiring for c in cps[:4]] == [(l1, l2, l3), (l2, l3, l1), (l3, l1, l2), (l1, l2, l3)]
    assert {c.group for c in cps} == {"garage-a"}


@pytest.mark.parametrize(
    ("grid", "count", "ids", "wirings"),
    [
        ("TN", 100, ["x001", "x002", "x003"], [(Line.L1,), (Line.L2,), (Line.L3,)]),
        (
            "IT",
            3,
            ["x01", "x02", "x03"],
            [(Line.L1, Line.L2), (Line.L2, Line.L3), (Line.L3, Line.L1)],
        ),
    ],
)
def test_generate_single_phase_rotation(
    grid: str, count: int, ids: list[str], wirings: list[tuple[Line, ...]]
) -> None:
    s = scenario_from(
        SMALL,
        site=f"{{grid: {grid}, fuse_a: 63}}",
        chargers=f"[{{generate: {{count: {count}, prefix: x, phases: 1, wiring: rotate}}}}]",
        sessions="[]",
    )
    assert [c.id for c in s.chargers[:3]] == ids
    assert [c.wiring for c in s.chargers[:3]] == wirings


def test_generated_sessions_cross_midnight_and_take_free_chargers() -> None:
    s = parse_scenario(CONTRACT)
    sessions = expand_sessions(s)
    assert len(sessions) == 50
    assert sessions == expand_sessions(s)  # the seed decides everything
    generated = sessions[1:]
    # Arrivals 16:00-20:00 are 4-8 h after the 12:00 start; departures 06:00-08:00 next day.
    assert all(4 * 3600 <= x.arrive_s <= 8 * 3600 for x in generated)
    assert all(18 * 3600 <= x.depart_s <= 20 * 3600 for x in generated)
    assert all(2 <= x.energy_kwh <= 14 and 16 <= x.ev_max_a <= 32 for x in generated)
    assert {x.ev_phases for x in generated} == {1, 3}
    # The guest charger is taken by its explicit session; 49 cars share the 49 others.
    assert sorted(x.charger or "" for x in generated) == [f"cp{n:02d}" for n in range(1, 50)]


def test_no_free_charger_leaves_the_car_without_one() -> None:
    s = scenario_from(
        SMALL,
        sessions='[{generate: {count: 3, arrive: "18:00", stay_h: 2, energy_kwh: 5}}]',
    )
    chargers = [x.charger for x in expand_sessions(s)]
    assert sorted(chargers, key=str) == [None, "a", "b"]


def test_charger_prefix_and_stay() -> None:
    s = scenario_from(
        SMALL,
        sessions='[{generate: {count: 1, charger_prefix: b, arrive: ["23:00", "01:00"], '
        "stay_h: [1, 1], energy_kwh: 5}}]",
    )
    (only,) = expand_sessions(s)
    assert only.charger == "b"
    assert only.depart_s - only.arrive_s == pytest.approx(3600)
    assert 5 * 3600 <= only.arrive_s <= 7 * 3600


def test_faults_and_controller_tuning() -> None:
    s = scenario_from(
        SMALL,
        controller="{strategy: first_come, interval_s: 2, max_interval_s: 6, settle_s: 20, "
        "max_changes_per_hour: 12}",
        faults='[{type: load_step, at: "18:30", amps: [40, 0, 0], minutes: 5}, '
        '{type: charger_offline, charger: a, at: "18:10", minutes: 2}, '
        "{type: ignores_limits, charger: b}]",
    )
    assert (s.controller.strategy, s.controller.interval_s, s.controller.max_interval_s) == (
        "first_come",
        2,
        6,
    )
    assert (s.controller.settings.settle_s, s.controller.settings.max_changes_per_hour) == (20, 12)
    (step,) = s.load_steps
    assert (step.node, step.amps, step.window.at_tod_s, step.window.minutes) == (
        "site",
        (40, 0, 0),
        18 * 3600 + 1800,
        5,
    )
    offline, ignores = s.charger_faults
    assert offline.window is not None
    assert (offline.kind, offline.charger, offline.window.minutes) == ("charger_offline", "a", 2)
    assert (ignores.kind, ignores.charger, ignores.window) == ("ignores_limits", "b", None)
    site = node_loads(s)["site"]
    assert site[1799, 0] == 0
    assert site[1800:2100, 0] == pytest.approx(40)
    assert site[2100, 0] == 0


def test_csv_profile_is_interpolated(tmp_path: Path) -> None:
    (tmp_path / "load.csv").write_text(
        "t_s,l1_a,l2_a,l3_a\n0,10,0,5\n100,20,0,5\n", encoding="utf-8"
    )
    path = tmp_path / "s.yaml"
    path.write_text(
        SMALL.replace("{profile: residential, peak_a: 0}", "{csv: load.csv}"), encoding="utf-8"
    )
    load = node_loads(load_scenario(path))["site"]
    assert load[50] == pytest.approx([15, 0, 5])
    assert load[500] == pytest.approx([20, 0, 5])


def test_spikes_are_seeded() -> None:
    spiky = (
        "{profile: office, peak_a: 10, spikes: [{per_hour: 20, amps: [5, 10], minutes: [1, 2]}]}"
    )
    first = node_loads(scenario_from(SMALL, building_load=spiky))["site"]
    again = node_loads(scenario_from(SMALL, building_load=spiky))["site"]
    other = node_loads(scenario_from(SMALL, building_load=spiky, seed=4))["site"]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.max() > 10


def test_time_of_day_wraps() -> None:
    s = parse_scenario(CONTRACT)
    assert s.sim_time(12 * 3600) == 0
    assert s.sim_time(6 * 3600) == 18 * 3600
    assert s.sim_time(11 * 3600) == DAY_S - 3600


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert expand_sessions(scenario)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"site": "{fuse_a: 25, grid: TT}"}, "site.grid: got 'TT', expected one of TN, IT"),
        ({"site": "{margin_a: 2}"}, "site: missing the key 'fuse_a'"),
        (
            {"site": "{fuse_a: [25, 25]}"},
            "site.fuse_a: got [25, 25], expected a number or a list of 3",
        ),
        ({"site": "{fuse_a: -1}"}, "site.fuse_a: got -1, expected a number >= 0"),
        ({"site": "{fuse_a: 25, fuse: 25}"}, "site.fuse: unknown key; expected one of the keys"),
        ({"start": "18:00"}, 'start: got 1080, expected a time of day "HH:MM" (quote it'),
        ({"duration_h": "0"}, "duration_h: got 0, expected a number > 0"),
        ({"step_s": "fast"}, "step_s: got 'fast', expected a number > 0"),
        ({"meter": "{dropouts: [{at: '22:00'}]}"}, "meter.dropouts[0]: missing the key 'minutes'"),
        (
            {"chargers": "[{id: a, wiring: L1L1L3}]"},
            "chargers[0].wiring: got 'L1L1L3', expected a permutation of L1, L2, L3",
        ),
        (
            {"chargers": "[{id: a, phases: 1, wiring: L1L2}]"},
            "chargers[0].wiring: got 'L1L2', expected one line: L1, L2 or L3",
        ),
        ({"chargers": "[{id: a, phases: 2}]"}, "chargers[0].phases: got 2, expected 1 or 3"),
        (
            {"chargers": "[{id: a, group: garage}]"},
            "chargers[0].group: got 'garage', expected 'site'",
        ),
        (
            {"chargers": "[{id: a, min_a: 6, max_a: 5}]"},
            "chargers[0].max_a: got 5, expected a number >= 6",
        ),
        ({"chargers": "[{id: a}, {id: a}]"}, "chargers: got 'a', expected unique charger ids"),
        (
            {"chargers": "[{generate: {prefix: x}}]"},
            "chargers[0].generate: missing the key 'count'",
        ),
        (
            {"groups": "[{id: g, parent: h, limit_a: 10}]"},
            "groups[0].parent: got 'h', expected 'site'",
        ),
        (
            {"building_load": "{profile: factory, peak_a: 1}"},
            "building_load.profile: got 'factory', expected one of residential, office, depot",
        ),
        (
            {
                "building_load": "{profile: office, peak_a: 1, spikes: {per_hour: 1, amps: [20, 5], minutes: 1}}"
            },
            "building_load.spikes.amps: got [20, 5], expected a number or [low, high]",
        ),
        (
            {"building_load": "{csv: missing.csv}"},
            "building_load.csv: got 'missing.csv', expected a CSV file with columns t_s,l1_a,l2_a,l3_a",
        ),
        (
            {"sessions": "[{charger: z, arrive: '18:00', depart: '19:00', energy_kwh: 5}]"},
            "sessions[0].charger: got 'z', expected the id of a charger",
        ),
        (
            {"sessions": "[{charger: a, arrive: '18:00', depart: '19:00', energy_kwh: -5}]"},
            "sessions[0].energy_kwh: got -5, expected a number >= 0",
        ),
        (
            {
                "sessions": "[{generate: {count: 2, arrive: '18:00', stay_h: 1, energy_kwh: 5, ev_phases: 2}}]"
            },
            "sessions[0].generate.ev_phases: got 2, expected 1, 3 or a mapping",
        ),
        (
            {"sessions": "[{generate: {count: 2, arrive: '18:00', energy_kwh: 5}}]"},
            "sessions[0].generate: got {",
        ),
        (
            {"controller": "{strategy: fastest}"},
            "controller.strategy: got 'fastest', expected one of",
        ),
        (
            {"controller": "{meter_timeout_s: 5}"},
            "controller.meter_timeout_s: got 5, expected no value here",
        ),
        ({"faults": "[{type: fire}]"}, "faults[0].type: got 'fire', expected one of load_step"),
        (
            {"faults": "[{type: charger_offline, charger: a, at: '18:00'}]"},
            "faults[0]: missing the key 'minutes'",
        ),
    ],
)
def test_errors_name_key_value_and_expectation(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from(SMALL, **changes)
    assert str(err.value).startswith("test.yaml: ")
    assert message in str(err.value)


def test_overlapping_explicit_sessions_are_refused() -> None:
    twice = (
        "[{charger: a, arrive: '18:00', depart: '19:00', energy_kwh: 5}, "
        "{charger: a, arrive: '18:30', depart: '20:00', energy_kwh: 5}]"
    )
    with pytest.raises(
        ScenarioError, match=r"sessions\[1\]: overlaps another session on charger 'a'"
    ):
        expand_sessions(scenario_from(SMALL, sessions=twice))


def test_unreadable_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        parse_scenario("name: [unclosed")
