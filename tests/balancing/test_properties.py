"""Properties of the engine over random sites, checked against the snapshot, not the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
import random

from hypothesis import given, settings, strategies as st

from custom_components.ev_load_balancer.balancing.allocate import (
    Allocation,
    Demand,
    allocate,
)
from custom_components.ev_load_balancer.balancing.controller import Controller
from custom_components.ev_load_balancer.balancing.electrical import (
    line_currents,
    load_lines,
    observed_phases,
)
from custom_components.ev_load_balancer.balancing.fallback import fallback_currents
from custom_components.ev_load_balancer.balancing.model import (
    SITE_NODE_ID,
    ChargerConfig,
    ChargerObservation,
    ControllerSettings,
    GridType,
    Line,
    MeterReading,
    NodeConfig,
    Reason,
    SiteConfig,
    Snapshot,
    StepResult,
    Strategy,
)

TOLERANCE_A = 1e-6
FAST = settings(max_examples=300, deadline=None)
NODES = ("site", "a", "b", "c")
LINE_SETS = ((Line.L1,), (Line.L2,), (Line.L1, Line.L2), (Line.L2, Line.L3), tuple(Line))

# The allocation alone.


@st.composite
def allocation_inputs(
    draw: st.DrawFn,
) -> tuple[dict[str, tuple[float, float, float]], list[Demand]]:
    parents = {"a": "site", "b": draw(st.sampled_from(["site", "a"])), "c": "b"}
    current = st.floats(min_value=-5.0, max_value=80.0, allow_nan=False)
    available = {node: (draw(current), draw(current), draw(current)) for node in NODES}
    demands = []
    for index in range(draw(st.integers(min_value=1, max_value=12))):
        node = draw(st.sampled_from(NODES))
        path = [node]
        while path[-1] != SITE_NODE_ID:
            path.append(parents[path[-1]])
        min_a = draw(st.sampled_from([6.0, 7.0, 8.0]))
        demands.append(
            Demand(
                id=f"d{index:02}",
                nodes=tuple(path),
                lines=draw(st.sampled_from(LINE_SETS)),
                min_a=min_a,
                max_a=draw(st.floats(min_value=min_a - 1.0, max_value=32.0)),
                demand_a=draw(st.one_of(st.just(math.inf), st.floats(0.0, 32.0))),
                priority=draw(st.integers(min_value=0, max_value=2)),
                arrival=draw(st.floats(min_value=0.0, max_value=100.0)),
                turn=draw(st.integers(min_value=0, max_value=20)),
            )
        )
    return available, demands


def node_line_loads(
    demands: Sequence[Demand], result: dict[str, Allocation]
) -> dict[tuple[str, Line], float]:
    loads: dict[tuple[str, Line], float] = {}
    for demand in demands:
        for node in demand.nodes:
            for line in demand.lines:
                loads[node, line] = loads.get((node, line), 0.0) + result[demand.id].limit_a
    return loads


@FAST
@given(allocation_inputs(), st.sampled_from(Strategy))
def test_allocation_respects_capacity_minimum_and_maximum(
    inputs: tuple[dict[str, tuple[float, float, float]], list[Demand]], strategy: Strategy
) -> None:
    available, demands = inputs
    result = allocate(available, demands, strategy)
    assert set(result) == {demand.id for demand in demands}
    for (node, line), load_a in node_line_loads(demands, result).items():
        assert load_a <= max(available[node][line], 0.0) + TOLERANCE_A
    for demand in demands:
        limit_a = result[demand.id].limit_a
        assert limit_a == 0.0 or limit_a >= demand.min_a - TOLERANCE_A
        assert limit_a <= demand.max_a + TOLERANCE_A


@FAST
@given(allocation_inputs(), st.sampled_from(Strategy), st.randoms(use_true_random=False))
def test_allocation_is_deterministic(
    inputs: tuple[dict[str, tuple[float, float, float]], list[Demand]],
    strategy: Strategy,
    shuffler: random.Random,
) -> None:
    available, demands = inputs
    shuffled = list(demands)
    shuffler.shuffle(shuffled)
    assert allocate(available, shuffled, strategy) == allocate(available, demands, strategy)


@FAST
@given(allocation_inputs())
def test_equal_share_is_max_min_fair(
    inputs: tuple[dict[str, tuple[float, float, float]], list[Demand]],
) -> None:
    # A charger below its cap sits on a full node line where nobody of its priority or lower
    # has more, except chargers held at their own (higher) minimum.
    available, demands = inputs
    result = allocate(available, demands, Strategy.EQUAL_SHARE)
    loads = node_line_loads(demands, result)
    for demand in demands:
        limit_a = result[demand.id].limit_a
        cap_a = min(demand.max_a, max(demand.min_a, demand.demand_a))
        if limit_a == 0.0 or limit_a >= cap_a - TOLERANCE_A:
            continue
        assert any(
            loads[node, line] >= available[node][line] - TOLERANCE_A
            and all(
                result[other.id].limit_a <= limit_a + TOLERANCE_A
                or result[other.id].limit_a <= other.min_a + TOLERANCE_A
                for other in demands
                if other.priority <= demand.priority and node in other.nodes and line in other.lines
            )
            for node in demand.nodes
            for line in demand.lines
        )


@FAST
@given(allocation_inputs(), st.sampled_from(Strategy))
def test_lower_priority_never_takes_from_higher(
    inputs: tuple[dict[str, tuple[float, float, float]], list[Demand]], strategy: Strategy
) -> None:
    available, demands = inputs
    top = max(demand.priority for demand in demands)
    alone = allocate(available, [d for d in demands if d.priority == top], strategy)
    together = allocate(available, demands, strategy)
    assert {key: together[key] for key in alone} == alone


# The controller over a few steps.


@dataclass(frozen=True, kw_only=True)
class Run:
    config: SiteConfig
    snapshots: tuple[Snapshot, ...]


@st.composite
def runs(draw: st.DrawFn) -> Run:
    grid = draw(st.sampled_from(GridType))
    parents = {"a": "site", "b": draw(st.sampled_from(["site", "a"])), "c": "b"}
    limit = st.floats(min_value=10.0, max_value=80.0)
    nodes = []
    for node in NODES[: draw(st.integers(min_value=1, max_value=4))]:
        fuse_a = draw(limit)
        metered = node == SITE_NODE_ID or draw(st.booleans())
        nodes.append(
            NodeConfig(
                id=node,
                parent=None if node == SITE_NODE_ID else parents[node],
                limit_a=(fuse_a, fuse_a, fuse_a),
                meter_id=f"meter-{node}" if metered else None,
                meter_includes_chargers=draw(st.booleans()),
            )
        )
    chargers = []
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        phases = draw(st.sampled_from([1, 3]))
        if phases == 3:
            wiring = tuple(draw(st.permutations(list(Line))))
        else:
            wiring = draw(st.sampled_from(LINE_SETS[2:4] if grid is GridType.IT else LINE_SETS[:2]))
        min_a = draw(st.sampled_from([6.0, 7.0]))
        chargers.append(
            ChargerConfig(
                id=f"cp{index}",
                group=draw(st.sampled_from([node.id for node in nodes])),
                phases=phases,
                wiring=wiring,
                min_a=min_a,
                max_a=draw(st.sampled_from([10.0, 16.0, 32.0])),
                priority=draw(st.integers(min_value=0, max_value=1)),
                enabled=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    config = SiteConfig(
        grid=grid,
        margin_a=draw(st.sampled_from([0.0, 2.0])),
        reserve_a=draw(st.sampled_from([0.0, 3.0])),
        failsafe_a=draw(st.sampled_from([0.0, 4.0, 6.0, 10.0])),
        strategy=draw(st.sampled_from(Strategy)),
        nodes=tuple(nodes),
        chargers=tuple(chargers),
    )
    patterns = {c.id: draw(st.sampled_from([(1.0, 0.0, 0.0), (1.0, 1.0, 1.0)])) for c in chargers}
    snapshots = []
    now = 0.0
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        now += draw(st.sampled_from([1.0, 5.0, 20.0, 400.0]))
        observations = {}
        for c in chargers:
            level = draw(st.floats(min_value=3.5, max_value=32.0))
            observations[c.id] = ChargerObservation(
                online=draw(st.integers(0, 9)) > 0,
                vehicle_connected=draw(st.integers(0, 4)) > 0,
                currents_a=tuple(level * share for share in patterns[c.id][: c.phases]),
                measured_at=now - draw(st.sampled_from([0.0, 0.0, 0.0, 100.0])),
                session_started_at=draw(st.sampled_from([None, 1.0, 2.0])),
            )
        meters = {
            node.meter_id: MeterReading(
                currents_a=(draw(limit), draw(limit), draw(limit)),
                at=now - draw(st.sampled_from([0.0, 0.0, 0.0, 0.0, 30.0])),
            )
            for node in nodes
            if node.meter_id is not None and draw(st.integers(0, 9)) > 0
        }
        snapshots.append(Snapshot(now=now, meters=meters, chargers=observations))
    return Run(config=config, snapshots=tuple(snapshots))


def ancestors(config: SiteConfig, node_id: str) -> list[str]:
    parents = {node.id: node.parent for node in config.nodes}
    path = [node_id]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    return path


def fresh(observation: ChargerObservation, now: float) -> bool:
    defaults = ControllerSettings()
    return (
        observation.currents_a is not None
        and observation.measured_at is not None
        and now - observation.measured_at <= defaults.charger_timeout_s
    )


def check_safety(
    config: SiteConfig,
    snapshot: Snapshot,
    result: StepResult,
    lines: dict[str, tuple[Line, ...]],
    worst: dict[str, float],
) -> None:
    """Every node line fits its limit given the snapshot, when pausing can make it fit."""
    defaults = ControllerSettings()
    kept_a = config.margin_a + config.reserve_a
    stale = {
        node.id
        for node in config.nodes
        if node.meter_id is not None
        and (
            (reading := snapshot.meters.get(node.meter_id)) is None
            or snapshot.now - reading.at > defaults.meter_timeout_s
        )
    }
    failsafe = {node.id for node in config.nodes if stale.intersection(ancestors(config, node.id))}
    assert result.failsafe_nodes == failsafe
    for node in config.nodes:
        below = [c for c in config.chargers if node.id in ancestors(config, c.group)]
        for line in Line:
            allowed_a = offline_a = drawn_a = 0.0
            for c in below:
                observation = snapshot.chargers[c.id]
                if fresh(observation, snapshot.now):
                    currents = observation.currents_a or ()
                    drawn_a += line_currents(c, config.grid, 3, currents, math.inf)[line]
                if line not in lines[c.id]:
                    continue
                if result.limits[c.id].reason is Reason.OFFLINE:
                    offline_a += worst[c.id]
                else:
                    allowed_a += result.limits[c.id].limit_a
            if node.meter_id is None:
                non_ev_a = 0.0
            elif node.id in failsafe:
                non_ev_a = kept_a
            else:
                assert node.meter_id is not None
                measured_a = snapshot.meters[node.meter_id].currents_a[line] or 0.0
                charging_a = drawn_a if node.meter_includes_chargers else 0.0
                non_ev_a = max(measured_a - charging_a, 0.0) + kept_a
            if non_ev_a + offline_a <= node.limit_a[line]:
                assert allowed_a + offline_a + non_ev_a <= node.limit_a[line] + TOLERANCE_A
            else:
                assert allowed_a == 0.0


@settings(max_examples=500, deadline=None)
@given(runs())
def test_controller_keeps_every_node_within_its_limit(run: Run) -> None:
    config = run.config
    controller = Controller(config)
    twin = Controller(config)
    learned: dict[str, int | None] = {}
    sent: dict[str, float] = {}
    fallback = fallback_currents(config)  # what a charger left alone falls back to
    for snapshot in run.snapshots:
        result = controller.step(snapshot)
        assert twin.step(snapshot) == result
        lines, worst = {}, {}
        for c in config.chargers:
            observation = snapshot.chargers[c.id]
            offline = result.limits[c.id].reason is Reason.OFFLINE
            if observation.online and not observation.vehicle_connected:
                learned[c.id] = None
            elif observation.online and fresh(observation, snapshot.now):
                seen = observed_phases(observation.currents_a or (), config.grid)
                learned[c.id] = seen or learned.get(c.id)
            phases = c.phases if offline else learned.get(c.id) or c.phases
            lines[c.id] = load_lines(c, config.grid, 3, phases)
            worst[c.id] = min(c.max_a, max(sent[c.id], fallback[c.id])) if c.id in sent else c.max_a
        check_safety(config, snapshot, result, lines, worst)
        for c in config.chargers:
            limit = result.limits[c.id]
            if limit.reason is not Reason.OFFLINE:
                sent[c.id] = limit.limit_a
                assert limit.limit_a == 0.0 or limit.limit_a >= c.min_a
                assert limit.limit_a <= c.max_a
            if c.group in result.failsafe_nodes and limit.reason is not Reason.OFFLINE:
                assert limit.limit_a <= config.failsafe_a


@settings(max_examples=300, deadline=None)
@given(runs())
def test_fallback_currents_together_fit_every_node(run: Run) -> None:
    """When nothing controls the chargers, all of them at their fallback fit every fuse."""
    config = run.config
    fallback = fallback_currents(config)
    kept_a = config.margin_a + config.reserve_a
    for node in config.nodes:
        below = [c for c in config.chargers if node.id in ancestors(config, c.group)]
        for line in Line:
            # Any car: the charger's full wiring is the most it can load.
            total_a = sum(
                fallback[c.id] for c in below if line in load_lines(c, config.grid, 3, c.phases)
            )
            kept = kept_a if node.meter_id is not None else 0.0
            assert total_a <= node.limit_a[line] - kept + TOLERANCE_A
    for c in config.chargers:
        assert fallback[c.id] in (0.0, config.failsafe_a)
        assert fallback[c.id] == 0.0 or (c.enabled and c.min_a <= config.failsafe_a)
