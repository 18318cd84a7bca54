"""The allocation: priorities, minimums, equal share and first come over the group tree."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ev_load_balancer.balancing.allocate import Allocation, Demand, allocate
from custom_components.ev_load_balancer.balancing.model import Line, Reason, Strategy

from .helpers import L1, L2, L3, THREE

EQUAL, FIRST = Strategy.EQUAL_SHARE, Strategy.FIRST_COME


def demand(demand_id: str, *nodes: str, lines: tuple[Line, ...] = THREE, **kwargs: Any) -> Demand:
    kwargs.setdefault("min_a", 6.0)
    kwargs.setdefault("max_a", 16.0)
    return Demand(id=demand_id, nodes=nodes or ("site",), lines=lines, **kwargs)


def limits(result: dict[str, Allocation]) -> dict[str, float]:
    return {key: allocation.limit_a for key, allocation in result.items()}


def test_equal_share_splits_a_full_line_evenly() -> None:
    result = allocate({"site": (20.0, 20.0, 20.0)}, [demand("a"), demand("b")], EQUAL)
    assert limits(result) == {"a": 10.0, "b": 10.0}
    assert result["a"] == Allocation(
        limit_a=10.0, reason=Reason.NODE_LIMIT, node_id="site", line=L1
    )


def test_everyone_gets_their_maximum_when_there_is_room() -> None:
    result = allocate({"site": (60.0, 60.0, 60.0)}, [demand("a"), demand("b", max_a=10.0)], EQUAL)
    assert result["a"] == Allocation(limit_a=16.0, reason=Reason.CHARGER_MAX)
    assert result["b"] == Allocation(limit_a=10.0, reason=Reason.CHARGER_MAX)


def test_a_car_that_wants_less_leaves_the_rest_to_others() -> None:
    demands = [demand("a", demand_a=7.0), demand("b")]
    result = allocate({"site": (20.0, 20.0, 20.0)}, demands, EQUAL)
    assert result["a"] == Allocation(limit_a=7.0, reason=Reason.VEHICLE_DEMAND)
    assert result["b"].limit_a == 13.0


def test_demand_below_minimum_is_offered_the_minimum() -> None:
    result = allocate({"site": (20.0, 20.0, 20.0)}, [demand("a", demand_a=1.0)], EQUAL)
    assert result["a"] == Allocation(limit_a=6.0, reason=Reason.VEHICLE_DEMAND)


def test_who_cannot_get_the_minimum_is_paused_and_frees_room() -> None:
    demands = [demand("a", turn=0), demand("b", turn=1), demand("c", turn=2)]
    result = allocate({"site": (14.0, 14.0, 14.0)}, demands, EQUAL)
    assert limits(result) == {"a": 7.0, "b": 7.0, "c": 0.0}
    assert result["c"].reason is Reason.ROTATION


def test_pausing_in_one_group_does_not_block_another() -> None:
    available = {"site": (30.0, 30.0, 30.0), "left": (8.0, 8.0, 8.0), "right": (30.0,) * 3}
    demands = [
        demand("l1", "left", "site", turn=0),
        demand("l2", "left", "site", turn=1),
        demand("r1", "right", "site", turn=2),
    ]
    result = allocate(available, demands, EQUAL)
    assert limits(result) == {"l1": 8.0, "l2": 0.0, "r1": 16.0}


def test_nested_groups_bound_at_every_level() -> None:
    available = {"site": (40.0, 40.0, 40.0), "garage": (20.0,) * 3, "row": (9.0, 9.0, 9.0)}
    demands = [
        demand("r", "row", "garage", "site"),
        demand("g", "garage", "site"),
        demand("s", "site"),
    ]
    result = allocate(available, demands, EQUAL)
    assert limits(result) == {"r": 9.0, "g": 11.0, "s": 16.0}
    assert (result["r"].node_id, result["g"].node_id) == ("row", "garage")


def test_single_phase_chargers_on_different_lines_do_not_share() -> None:
    demands = [demand("a", lines=(L1,)), demand("b", lines=(L1,)), demand("c", lines=(L2,))]
    result = allocate({"site": (20.0, 20.0, 20.0)}, demands, EQUAL)
    assert limits(result) == {"a": 10.0, "b": 10.0, "c": 16.0}


def test_it_single_phase_loads_both_lines_of_its_pair() -> None:
    demands = [demand("a", lines=(L1, L2)), demand("b", lines=(L2, L3))]
    result = allocate({"site": (10.0, 20.0, 20.0)}, demands, EQUAL)
    assert limits(result) == {"a": 10.0, "b": 10.0}
    assert result["a"].line is L1


def test_water_filling_gives_left_over_room_to_the_unconstrained() -> None:
    # a is stuck at 8 by L1; b and c share L2 with a and take what a cannot use.
    demands = [demand("a", lines=(L1, L2)), demand("b", lines=(L2,)), demand("c", lines=(L2,))]
    result = allocate({"site": (8.0, 30.0, 30.0)}, demands, EQUAL)
    assert limits(result) == {"a": 8.0, "b": 11.0, "c": 11.0}


def test_higher_priority_is_served_first() -> None:
    demands = [demand("low", priority=0), demand("high", priority=1)]
    result = allocate({"site": (20.0, 20.0, 20.0)}, demands, EQUAL)
    assert limits(result) == {"high": 16.0, "low": 0.0}
    assert result["low"].reason is Reason.BELOW_MINIMUM


def test_first_come_fills_in_arrival_order_after_minimums() -> None:
    demands = [
        demand("late", arrival=20.0),
        demand("early", arrival=10.0),
        demand("x", arrival=15.0),
    ]
    result = allocate({"site": (26.0, 26.0, 26.0)}, demands, FIRST)
    assert limits(result) == {"early": 14.0, "x": 6.0, "late": 6.0}


def test_a_charger_whose_maximum_is_below_its_minimum_never_charges() -> None:
    result = allocate({"site": (60.0,) * 3}, [demand("a", min_a=8.0, max_a=6.0)], EQUAL)
    assert result["a"] == Allocation(
        limit_a=0.0, reason=Reason.BELOW_MINIMUM, node_id="site", line=L1
    )


def test_negative_room_pauses_everyone() -> None:
    result = allocate({"site": (-3.0, 30.0, 30.0)}, [demand("a"), demand("b", lines=(L2,))], EQUAL)
    assert limits(result) == {"a": 0.0, "b": 16.0}
    assert result["a"].reason is Reason.BELOW_MINIMUM


def test_different_minimums_start_growing_at_their_own_level() -> None:
    demands = [demand("a", min_a=6.0, max_a=32.0), demand("b", min_a=10.0, max_a=32.0)]
    assert limits(allocate({"site": (22.0,) * 3}, demands, EQUAL)) == {"a": 11.0, "b": 11.0}
    assert limits(allocate({"site": (18.0,) * 3}, demands, EQUAL)) == {"a": 8.0, "b": 10.0}


@pytest.mark.parametrize("strategy", [EQUAL, FIRST])
def test_no_demands(strategy: Strategy) -> None:
    assert allocate({"site": (10.0, 10.0, 10.0)}, [], strategy) == {}
