"""The control loop: headroom, failsafe, offline chargers, rotation, dynamics, restarts."""

from __future__ import annotations

from dataclasses import replace
import json

import pytest

from custom_components.ev_load_balancer.balancing.controller import Controller
from custom_components.ev_load_balancer.balancing.model import (
    ChargerLimit,
    ChargerObservation,
    ControllerSettings,
    GridType,
    MeterReading,
    Reason,
    SiteConfig,
    StepResult,
)

from .helpers import L1, L2, L3, SimulatedSite, car, charger, group, idle, site, snapshot

EXACT = ControllerSettings(min_change_a=0.0)
"""No dead band, so that expected limits are round numbers."""


def reasons(result: StepResult) -> dict[str, Reason]:
    return {key: limit.reason for key, limit in result.limits.items()}


def limits(result: StepResult) -> dict[str, float]:
    return {key: limit.limit_a for key, limit in result.limits.items()}


# Headroom


def test_non_ev_load_is_the_meter_minus_the_chargers() -> None:
    controller = Controller(site(charger("a", max_a=32.0)), EXACT)
    result = controller.step(snapshot(0.0, {"a": car(10.0, 10.0, 10.0)}, (15.0, 15.0, 15.0)))
    # 25 A fuse - 2 A margin - (15 - 10) A non-EV load.
    assert result.limits["a"] == ChargerLimit(
        limit_a=18.0, phases=3, reason=Reason.NODE_LIMIT, node_id="site", line=L1
    )
    assert result.allocated_a["site"] == (18.0, 18.0, 18.0)
    assert result.headroom_a["site"] == (0.0, 0.0, 0.0)
    assert result.failsafe_nodes == frozenset()


def test_a_report_newer_than_the_meter_does_not_hide_non_ev_load() -> None:
    controller = Controller(site(charger("a")), EXACT)
    assert limits(controller.step(snapshot(0.0, {"a": car(0, 0, 0)}))) == {"a": 16.0}
    # The car has ramped up and says so, but the meter was read just before that.
    observations = {"a": car(16.0, 16.0, 16.0, at=20.0)}
    result = controller.step(snapshot(20.0, observations, (10.0, 10.0, 10.0), meter_at=19.5))
    assert result.limits["a"].limit_a == 13.0


def test_meter_without_chargers_is_all_non_ev_load() -> None:
    config = site(charger("a", max_a=32.0))
    root = replace(config.nodes[0], meter_includes_chargers=False)
    controller = Controller(replace(config, nodes=(root,)), EXACT)
    result = controller.step(snapshot(0.0, {"a": car(10.0, 10.0, 10.0)}, (15.0, 15.0, 15.0)))
    assert result.limits["a"].limit_a == 8.0


def test_reserve_is_kept_free_with_the_margin() -> None:
    controller = Controller(site(charger("a", max_a=32.0), reserve_a=5.0), EXACT)
    result = controller.step(snapshot(0.0, {"a": car(0.0, 0.0, 0.0)}, (0.0, 0.0, 0.0)))
    assert result.limits["a"].limit_a == 18.0


def test_unmetered_group_bounds_its_chargers_by_its_limit() -> None:
    config = site(
        charger("a", group="garage"), charger("b", group="garage"), groups=(group("garage", 16.0),)
    )
    result = Controller(config, EXACT).step(snapshot(0.0, {"a": car(0, 0, 0), "b": car(0, 0, 0)}))
    assert limits(result) == {"a": 8.0, "b": 8.0}
    assert result.limits["a"].node_id == "garage"
    assert result.headroom_a["site"] == (7.0, 7.0, 7.0)


def test_non_ev_load_over_the_limit_pauses_everyone_below() -> None:
    controller = Controller(site(charger("a"), charger("b", phases=1, wiring=(L2,))), EXACT)
    observations = {"a": car(0, 0, 0), "b": car(0.0)}
    result = controller.step(snapshot(0.0, observations, (30.0, 5.0, 5.0)))
    assert limits(result) == {"a": 0.0, "b": 16.0}
    assert result.limits["a"].reason is Reason.BELOW_MINIMUM


def test_single_phase_site_uses_line_one_only() -> None:
    config = site(charger("a", phases=1), charger("b", phases=1), phases=1, fuse_a=22.0)
    observations = {"a": car(0.0), "b": car(0.0)}
    result = Controller(config, EXACT).step(snapshot(0.0, observations, (0.0, None, None)))
    assert limits(result) == {"a": 10.0, "b": 10.0}
    assert result.headroom_a["site"] == (0.0, 0.0, 0.0)


# Wiring and the phases a car uses


def test_single_phase_car_on_three_phase_charger_frees_the_other_lines() -> None:
    config = site(
        charger("phev", wiring=(L2, L3, L1)),
        charger("ev", phases=1, wiring=(L2,)),
        charger("other", phases=1, wiring=(L3,)),
        fuse_a=22.0,
    )
    observations = {"phev": car(10.0, 0.1, 0.0), "ev": car(10.0), "other": car(10.0)}
    result = Controller(config, EXACT).step(snapshot(0.0, observations, (0.0, 20.0, 10.0)))
    # phev loads only L2, with ev: 20 A shared. other has L3 to itself.
    assert limits(result) == {"phev": 10.0, "ev": 10.0, "other": 16.0}


def test_it_single_phase_charger_loads_both_lines_of_its_pair() -> None:
    config = site(
        charger("a", phases=1, wiring=(L1, L2)),
        charger("b", phases=1, wiring=(L2, L3)),
        grid=GridType.IT,
        fuse_a=22.0,
    )
    observations = {"a": car(0.0), "b": car(0.0)}
    result = Controller(config, EXACT).step(snapshot(0.0, observations, (10.0, 0.0, 0.0)))
    # L1: 22 - 2 - 10 = 10 for a; L2: 20 for a and b together.
    assert limits(result) == {"a": 10.0, "b": 10.0}
    assert (result.limits["a"].line, result.allocated_a["site"]) == (L1, (10.0, 20.0, 10.0))


def test_it_single_phase_car_on_three_phase_charger_loads_two_lines() -> None:
    config = site(charger("a", wiring=(L3, L1, L2)), grid=GridType.IT, fuse_a=22.0)
    result = Controller(config, EXACT).step(
        snapshot(0.0, {"a": car(8.0, 8.0, 0.0)}, (8.0, 0.0, 8.0))
    )
    assert result.allocated_a["site"] == (16.0, 0.0, 16.0)


# Failsafe


@pytest.mark.parametrize(
    ("failsafe_a", "expected_a"), [(6.0, 6.0), (10.0, 10.0), (0.0, 0.0), (4.0, 0.0)]
)
def test_stale_meter_falls_back_to_the_failsafe_current(
    failsafe_a: float, expected_a: float
) -> None:
    controller = Controller(site(charger("a"), charger("b"), failsafe_a=failsafe_a), EXACT)
    observations = {"a": car(0, 0, 0, at=20.0), "b": car(0, 0, 0, at=20.0)}
    result = controller.step(snapshot(20.0, observations, (0.0, 0.0, 0.0), meter_at=9.0))
    assert limits(result) == {"a": expected_a, "b": expected_a}
    assert set(reasons(result).values()) == {Reason.FAILSAFE}
    assert result.failsafe_nodes == frozenset({"site"})


@pytest.mark.parametrize("reading", [None, (0.0, None, 0.0)])
def test_missing_or_incomplete_reading_is_stale(
    reading: tuple[float | None, float | None, float | None] | None,
) -> None:
    controller = Controller(site(charger("a")), EXACT)
    result = controller.step(snapshot(0.0, {"a": car(0, 0, 0)}, reading))
    assert result.limits["a"] == ChargerLimit(limit_a=6.0, phases=3, reason=Reason.FAILSAFE)


def test_failsafe_keeps_room_for_the_last_non_ev_load_seen() -> None:
    controller = Controller(site(charger("a"), charger("b")), EXACT)
    observations = {"a": car(0, 0, 0), "b": car(0, 0, 0)}
    controller.step(snapshot(0.0, observations, (15.0, 15.0, 15.0)))
    observations = {"a": car(8, 8, 8, at=20.0), "b": car(0, 0, 0, at=20.0)}
    result = controller.step(snapshot(20.0, observations, (23.0, 23.0, 23.0), meter_at=0.0))
    # 25 A - 2 A margin - 15 A last seen: room for one charger at the failsafe current.
    assert sorted(limits(result).values()) == [0.0, 6.0]


def test_failsafe_respects_the_node_limit() -> None:
    controller = Controller(site(charger("a"), charger("b"), fuse_a=10.0), EXACT)
    result = controller.step(snapshot(0.0, {"a": car(0, 0, 0), "b": car(0, 0, 0)}, None))
    assert limits(result) == {"a": 6.0, "b": 0.0}


def test_stale_group_meter_affects_only_the_chargers_below_it() -> None:
    garage = group("garage", 20.0, meter_id="garage-meter")
    row = group("row", 20.0, parent="garage")
    config = site(
        charger("g", group="garage"), charger("r", group="row"), charger("s"), groups=(garage, row)
    )
    observations = {"g": car(0, 0, 0), "r": car(0, 0, 0), "s": car(0, 0, 0)}
    stale = {"garage-meter": MeterReading(currents_a=(0.0, 0.0, 0.0), at=-30.0)}
    result = Controller(config, EXACT).step(snapshot(0.0, observations, meters=stale))
    assert reasons(result) == {"g": Reason.FAILSAFE, "r": Reason.FAILSAFE, "s": Reason.NODE_LIMIT}
    assert limits(result) == {"g": 6.0, "r": 6.0, "s": 11.0}
    assert result.failsafe_nodes == frozenset({"garage", "row"})


# Offline chargers


def test_offline_charger_of_unknown_limit_counts_at_its_maximum() -> None:
    controller = Controller(site(charger("a"), charger("gone")), EXACT)
    gone = ChargerObservation(online=False, vehicle_connected=True)
    result = controller.step(snapshot(0.0, {"a": car(0, 0, 0), "gone": gone}))
    assert result.limits["gone"] == ChargerLimit(limit_a=16.0, phases=3, reason=Reason.OFFLINE)
    assert result.limits["a"].limit_a == 7.0
    assert result.allocated_a["site"] == (23.0, 23.0, 23.0)


def test_offline_charger_counts_at_its_last_limit_or_its_fallback() -> None:
    controller = Controller(
        site(charger("a", max_a=32.0), charger("b", max_a=32.0), fuse_a=32.0), EXACT
    )
    first = controller.step(snapshot(0.0, {"a": car(0, 0, 0), "b": car(0, 0, 0)}))
    assert limits(first) == {"a": 15.0, "b": 15.0}
    silent = car(15.0, 15.0, 15.0, at=0.0)
    result = controller.step(snapshot(100.0, {"a": car(15, 15, 15, at=100.0), "b": silent}))
    assert result.limits["b"].reason is Reason.OFFLINE
    assert limits(result) == {"a": 15.0, "b": 15.0}


def test_missing_observation_is_offline() -> None:
    result = Controller(site(charger("a")), EXACT).step(snapshot(0.0, {}))
    assert result.limits["a"].reason is Reason.OFFLINE


def test_meter_values_without_current_per_phase_count_the_draw_as_non_ev_load() -> None:
    config = site(charger("a"), charger("b"), fuse_a=32.0)
    controller = Controller(config, EXACT)
    # b reports (energy, power) but no current per phase: its 8 A stay in the non-EV load.
    observations = {
        "a": car(8.0, 8.0, 8.0),
        "b": ChargerObservation(online=True, vehicle_connected=True, measured_at=0.0),
    }
    result = controller.step(snapshot(0.0, observations, (20.0, 20.0, 20.0)))
    assert reasons(result) == {"a": Reason.NODE_LIMIT, "b": Reason.NODE_LIMIT}
    # 32 - 2 - (20 - 8) = 18 A for both: b's draw counts once as load and once as its share.
    assert limits(result) == {"a": 9.0, "b": 9.0}
    # Without any fresh meter values it is offline, counted at its maximum.
    late = {"a": car(8.0, 8.0, 8.0, at=100.0), "b": observations["b"]}
    assert reasons(controller.step(snapshot(100.0, late, (20.0, 20.0, 20.0))))["b"] is (
        Reason.OFFLINE
    )


def test_disabled_and_idle_chargers_are_paused() -> None:
    controller = Controller(site(charger("off", enabled=False), charger("idle")), EXACT)
    result = controller.step(snapshot(0.0, {"off": car(0, 0, 0), "idle": idle()}))
    assert reasons(result) == {"off": Reason.DISABLED, "idle": Reason.NOT_CHARGING}
    assert limits(result) == {"off": 0.0, "idle": 0.0}


# Dynamics


def test_raise_waits_for_the_room_a_lowered_charger_still_uses() -> None:
    config = site(charger("a", phases=1), charger("b", phases=1), fuse_a=14.0)
    sim = SimulatedSite(Controller(config, EXACT), config)
    sim.wants_a = {"a": (16.0,)}
    sim.step(0.0)
    assert sim.step(1.0).limits["a"].limit_a == 12.0
    sim.wants_a["b"] = (16.0,)
    result = sim.step(100.0)
    assert limits(result) == {"a": 6.0, "b": 0.0}
    assert result.limits["b"].reason is Reason.RAMP_HOLD
    # a has followed, but may still be on its way: b waits until a's change has settled.
    assert limits(sim.step(101.0)) == {"a": 6.0, "b": 0.0}
    assert limits(sim.step(115.0)) == {"a": 6.0, "b": 6.0}


def test_first_step_does_not_raise_into_room_still_in_use() -> None:
    # After a restart the limits in force are unknown: a draws 12 A from an earlier limit.
    config = site(charger("a", phases=1), charger("b", phases=1), fuse_a=14.0)
    controller = Controller(config, EXACT)
    result = controller.step(snapshot(0.0, {"a": car(12.0), "b": car(0.0)}, (12.0, 0.0, 0.0)))
    assert limits(result) == {"a": 6.0, "b": 0.0}
    assert result.limits["b"].reason is Reason.RAMP_HOLD
    observations = {"a": car(6.0, at=20.0), "b": car(0.0, at=20.0)}
    result = controller.step(snapshot(20.0, observations, (6.0, 0.0, 0.0)))
    assert limits(result) == {"a": 6.0, "b": 6.0}


def test_a_meter_read_before_a_change_sees_the_charger_under_the_limit_before() -> None:
    config = site(charger("a", phases=1))
    controller = Controller(config, ControllerSettings(settle_s=0.0, min_change_a=0.0))
    assert limits(controller.step(snapshot(0.0, {"a": car(16.0)}, (20.0, 0.0, 0.0)))) == {"a": 16.0}
    # The hob: 10 A of non-EV load, so a goes down to 25 - 2 - 10 = 13 A.
    reading = (26.0, 0.0, 0.0)
    result = controller.step(snapshot(10.0, {"a": car(16.0, at=9.0)}, reading, meter_at=9.5))
    assert limits(result) == {"a": 13.0}
    # Nothing new from the meter: it was read before the change, with a still at 16 A, so the
    # non-EV load is still 10 A (not 13 A) and a keeps its 13 A.
    result = controller.step(snapshot(10.5, {"a": car(16.0, at=9.0)}, reading, meter_at=9.5))
    assert limits(result) == {"a": 13.0}


def test_a_cut_the_charger_did_not_take_keeps_its_room_taken() -> None:
    config = site(charger("a", phases=1), charger("b", phases=1))
    controller = Controller(config, EXACT)
    drawing = {"a": car(16.0, applied_limit_a=16.0), "b": idle()}
    assert limits(controller.step(snapshot(0.0, drawing, (16.0, 0.0, 0.0))))["a"] == 16.0
    # A car arrives at b: a is cut to share, but refuses the cut and holds its 16 A.
    both = {"a": car(16.0, at=20.0, applied_limit_a=16.0), "b": car(0.0, at=20.0)}
    assert limits(controller.step(snapshot(20.0, both, (16.0, 0.0, 0.0)))) == {
        "a": 11.5,
        "b": 7.0,
    }
    # Long after the cut has settled a's car happens to draw 12 A, but a may go back to the
    # 16 A it holds at any moment: b still gets only what those leave, 23 - 16 = 7 A.
    later = {"a": car(12.0, at=99.0, applied_limit_a=16.0), "b": car(7.0, at=99.0)}
    result = controller.step(snapshot(100.0, later, (19.0, 0.0, 0.0)))
    assert result.limits["b"].limit_a == 7.0


def test_the_dead_band_never_pauses_a_car_the_full_room_holds() -> None:
    config = site(charger("a", phases=1), charger("b", phases=1))
    # 25 - 2 - 11 = 12 A: both fit at their 6 A minimum, but not with the 0.5 A band.
    observations = {"a": car(0.0), "b": car(0.0)}
    result = Controller(config).step(snapshot(0.0, observations, (11.0, 0.0, 0.0)))
    assert limits(result) == {"a": 6.0, "b": 6.0}


def test_raise_waits_to_settle_and_climbs_by_steps() -> None:
    config = site(charger("a"))
    settings = ControllerSettings(settle_s=15.0, raise_step_a=4.0, min_change_a=0.0)
    sim = SimulatedSite(Controller(config, settings), config, non_ev_a=15.0)
    sim.wants_a = {"a": (32.0, 32.0, 32.0)}
    assert sim.step(0.0).limits["a"].limit_a == 8.0
    sim.non_ev_a = 0.0
    held = sim.step(5.0).limits["a"]
    assert (held.limit_a, held.reason) == (8.0, Reason.RAMP_HOLD)
    assert [sim.step(now).limits["a"].limit_a for now in (15.0, 20.0, 30.0, 45.0)] == [
        12.0,
        12.0,
        16.0,
        16.0,
    ]
    assert sim.step(50.0).limits["a"].reason is Reason.CHARGER_MAX


def test_lowering_is_immediate() -> None:
    config = site(charger("a"))
    sim = SimulatedSite(Controller(config, EXACT), config)
    sim.wants_a = {"a": (16.0, 16.0, 16.0)}
    assert sim.step(0.0).limits["a"].limit_a == 16.0
    sim.non_ev_a = 12.0
    assert sim.step(1.0).limits["a"].limit_a == 11.0
    sim.non_ev_a = 20.0
    assert sim.step(2.0).limits["a"].reason is Reason.BELOW_MINIMUM
    assert sim.limits_a["a"] == 0.0


def test_change_budget_holds_raises_but_never_lowering() -> None:
    config = site(charger("a"))
    settings = ControllerSettings(settle_s=0.0, max_changes_per_hour=2, min_change_a=0.0)
    sim = SimulatedSite(Controller(config, settings), config, non_ev_a=15.0)
    sim.wants_a = {"a": (32.0, 32.0, 32.0)}
    assert sim.step(0.0).limits["a"].limit_a == 8.0
    sim.non_ev_a = 11.0
    assert sim.step(10.0).limits["a"].limit_a == 12.0
    sim.non_ev_a = 0.0
    held = sim.step(20.0).limits["a"]
    assert (held.limit_a, held.reason) == (12.0, Reason.CHANGE_BUDGET)
    sim.non_ev_a = 13.0
    assert sim.step(30.0).limits["a"].limit_a == 10.0
    sim.non_ev_a = 0.0
    assert sim.step(3000.0).limits["a"].reason is Reason.CHANGE_BUDGET
    assert sim.step(3700.0).limits["a"].limit_a == 16.0


def test_a_charger_that_ignores_its_limit_is_worked_around() -> None:
    config = site(charger("stubborn", phases=1), charger("b", phases=1))
    controller = Controller(config, EXACT)
    limits_a = {"stubborn": 0.0, "b": 0.0}
    for now in range(0, 400, 20):
        observations = {"stubborn": car(16.0, at=now), "b": car(limits_a["b"], at=now)}
        result = controller.step(snapshot(now, observations, (16.0 + limits_a["b"], 0.0, 0.0)))
        limits_a = limits(result)
    # 25 A fuse - 2 A margin - 16 A drawn regardless of the limit leaves 7 A for b.
    assert limits_a["b"] == pytest.approx(7.0, abs=0.1)


def test_a_charger_seen_ignoring_its_limit_is_counted_at_its_maximum() -> None:
    config = site(charger("stubborn", phases=1), charger("b", phases=1))
    controller = Controller(config, EXACT)
    first = controller.step(snapshot(0.0, {"stubborn": car(0.0), "b": car(0.0)}))
    assert limits(first) == {"stubborn": 11.5, "b": 11.5}
    # After its change has settled it still draws 16 A: it is not following its limit.
    observations = {"stubborn": car(16.0, at=20.0), "b": car(11.5, at=20.0)}
    result = controller.step(snapshot(20.0, observations, (27.5, 0.0, 0.0)))
    assert result.limits["stubborn"].reason is Reason.OFFLINE
    assert result.limits["stubborn"].limit_a == 16.0
    # Counted at its 16 A, whatever it is sent: b gets 25 - 2 - 16 = 7 A at once.
    assert result.limits["b"].limit_a == pytest.approx(7.0)
    # Its next car is trusted again until it shows otherwise.
    controller.step(snapshot(40.0, {"stubborn": idle(40.0), "b": car(7.0, at=40.0)}))
    result = controller.step(
        snapshot(60.0, {"stubborn": car(0.0, at=60.0), "b": car(7.0, at=60.0)}, (7.0, 0.0, 0.0))
    )
    assert result.limits["stubborn"].reason is not Reason.OFFLINE


def test_small_swings_cause_no_changes() -> None:
    config = site(charger("a"))
    sim = SimulatedSite(Controller(config), config, non_ev_a=15.0)
    sim.wants_a = {"a": (32.0, 32.0, 32.0)}
    # 25 A fuse - 2 A margin - 15 A, less the 0.5 A dead band.
    assert sim.step(0.0).limits["a"].limit_a == 7.5
    sim.non_ev_a = 14.7
    assert sim.step(100.0).limits["a"].limit_a == 7.5
    sim.non_ev_a = 15.4
    assert sim.step(200.0).limits["a"].limit_a == 7.5
    sim.non_ev_a = 15.6
    assert sim.step(300.0).limits["a"].limit_a == pytest.approx(6.9)
    sim.non_ev_a = 10.0
    assert sim.step(400.0).limits["a"].limit_a == pytest.approx(12.5)


def test_car_that_draws_less_is_capped_and_reoffered() -> None:
    config = site(charger("a"), charger("b", max_a=32.0), fuse_a=40.0)
    sim = SimulatedSite(Controller(config, EXACT), config)
    sim.wants_a = {"a": (5.0, 5.0, 5.0), "b": (32.0, 32.0, 32.0)}
    assert limits(sim.step(0.0)) == {"a": 16.0, "b": 22.0}
    capped = sim.step(20.0)
    assert capped.limits["a"] == ChargerLimit(limit_a=6.0, phases=3, reason=Reason.VEHICLE_DEMAND)
    # b takes the rest once a's cut has settled.
    assert capped.limits["b"].reason is Reason.RAMP_HOLD
    assert sim.step(35.0).limits["b"].limit_a == 32.0
    assert sim.step(200.0).limits["a"].limit_a == 6.0
    # After reoffer_interval_s the car is offered its full share again...
    assert limits(sim.step(320.0)) == {"a": 6.0, "b": 22.0}
    assert limits(sim.step(335.0)) == {"a": 16.0, "b": 22.0}
    # ... and capped again once it has shown it still wants less.
    assert sim.step(360.0).limits["a"].reason is Reason.VEHICLE_DEMAND


def test_car_that_takes_nothing_is_paused_until_the_reoffer() -> None:
    config = site(charger("full"), charger("b", max_a=32.0), fuse_a=30.0)
    sim = SimulatedSite(Controller(config, EXACT), config)
    sim.wants_a = {"full": (0.0, 0.0, 0.0), "b": (32.0, 32.0, 32.0)}
    assert limits(sim.step(0.0)) == {"full": 14.0, "b": 14.0}
    paused = sim.step(20.0).limits["full"]
    assert (paused.limit_a, paused.reason) == (0.0, Reason.VEHICLE_DEMAND)
    assert sim.step(40.0).limits["b"].limit_a == 28.0
    assert sim.step(325.0).limits["full"].limit_a == 0.0
    assert sim.step(345.0).limits["full"].limit_a == 14.0


def test_car_that_wants_more_again_is_uncapped() -> None:
    config = site(charger("a"), fuse_a=40.0)
    sim = SimulatedSite(Controller(config, EXACT), config)
    sim.wants_a = {"a": (5.0, 5.0, 5.0)}
    sim.step(0.0)
    assert sim.step(20.0).limits["a"].limit_a == 6.0
    sim.wants_a = {"a": (16.0, 16.0, 16.0)}
    sim.step(40.0)
    assert sim.step(60.0).limits["a"].limit_a == 16.0


# Rotation


def rotation_site() -> tuple[SiteConfig, SimulatedSite]:
    config = site(*(charger(key, phases=1) for key in "abc"), fuse_a=14.0)
    sim = SimulatedSite(Controller(config, EXACT), config)
    sim.wants_a = dict.fromkeys("abc", (16.0,))
    return config, sim


def test_rotation_pauses_in_turn_and_shares_energy() -> None:
    _, sim = rotation_site()
    charging: list[frozenset[str]] = []
    for now in range(0, 2700, 5):
        result = sim.step(float(now))
        charging.append(frozenset(key for key, limit in result.limits.items() if limit.limit_a))
        paused = [limit for limit in result.limits.values() if not limit.limit_a]
        assert {limit.reason for limit in paused} <= {Reason.ROTATION, Reason.RAMP_HOLD}
    per_interval = [set(charging[start + 4 : start + 180]) for start in range(0, 540, 180)]
    assert per_interval == [{frozenset("ab")}, {frozenset("ac")}, {frozenset("bc")}]
    energies = sim.energy_as.values()
    assert max(energies) - min(energies) < 0.02 * max(energies)


def test_a_paused_charger_resumes_when_room_appears() -> None:
    _, sim = rotation_site()
    sim.step(0.0)
    assert sim.step(5.0).limits["c"].reason is Reason.ROTATION
    del sim.wants_a["a"]
    assert sim.step(20.0).limits["c"].limit_a == 6.0


def test_restore_state_keeps_the_rotation_across_a_restart() -> None:
    config, sim = rotation_site()
    for now in range(0, 1000, 5):
        sim.step(float(now))
    assert {key for key, limit in sim.limits_a.items() if limit} == {"a", "c"}
    state = json.loads(json.dumps(sim.controller.export_state()))
    restarted = Controller(config, EXACT)
    restarted.restore_state(state)
    assert restarted.export_state() == state
    observations = {key: car(0.0, at=3.0) for key in "abc"}
    result = restarted.step(snapshot(3.0, observations))
    assert {key for key, limit in limits(result).items() if limit} == {"a", "c"}


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"version": 99},
        {"version": 1, "energy_wh": [1], "turn": "abc"},
        {"version": 1, "energy_wh": {"a": "x", "zz": 3.0}, "turn": [1, "zz", "a"]},
    ],
)
def test_restore_state_ignores_what_it_does_not_understand(state: dict[str, object]) -> None:
    controller = Controller(site(charger("a")), EXACT)
    controller.restore_state(state)
    assert controller.export_state()["energy_wh"] == {}


def test_reconfigure_keeps_known_chargers_and_refuses_bad_trees() -> None:
    config, sim = rotation_site()
    for now in range(0, 100, 5):
        sim.step(float(now))
    smaller = replace(config, chargers=config.chargers[:2])
    sim.controller.reconfigure(smaller)
    assert set(sim.controller.export_state()["energy_wh"]) == {"a", "b"}
    with pytest.raises(ValueError):  # noqa: PT011
        sim.controller.reconfigure(replace(config, nodes=()))
    result = sim.controller.step(snapshot(200.0, {key: car(6.0, at=200.0) for key in "ab"}))
    assert set(result.limits) == {"a", "b"}
