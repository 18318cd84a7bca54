"""The baselines behave as documented and present the controller's interface."""

from __future__ import annotations

import pytest

from benchmarks.baselines import StaticBaseline, WorstPhaseFcfs
from custom_components.ev_load_balancer.balancing.model import (
    ChargerConfig,
    ChargerObservation,
    ControllerSettings,
    Line,
    MeterReading,
    NodeConfig,
    Reason,
    SiteConfig,
    Snapshot,
)

L123 = (Line.L1, Line.L2, Line.L3)


def _site(chargers: int, fuse_a: float, group_a: float | None = None) -> SiteConfig:
    nodes = [NodeConfig(id="site", parent=None, limit_a=(fuse_a,) * 3, meter_id="m")]
    group = "site"
    if group_a is not None:
        nodes.append(NodeConfig(id="g", parent="site", limit_a=(group_a,) * 3))
        group = "g"
    return SiteConfig(
        margin_a=2.0,
        failsafe_a=6.0,
        nodes=tuple(nodes),
        chargers=tuple(
            ChargerConfig(id=f"c{i}", group=group, phases=3, wiring=L123, max_a=16.0)
            for i in range(chargers)
        ),
    )


@pytest.mark.parametrize(
    ("chargers", "fuse_a", "group_a", "limit_a", "reason"),
    [
        (3, 63.0, None, 16.0, Reason.CHARGER_MAX),
        (6, 63.0, None, 10.5, Reason.NODE_LIMIT),
        (6, 63.0, 40.0, 40 / 6, Reason.NODE_LIMIT),
        (50, 63.0, None, 0.0, Reason.BELOW_MINIMUM),
    ],
)
def test_static_shares_every_node(
    chargers: int, fuse_a: float, group_a: float | None, limit_a: float, reason: Reason
) -> None:
    result = StaticBaseline(_site(chargers, fuse_a, group_a)).step(Snapshot(now=0.0))
    assert [x.limit_a for x in result.limits.values()] == pytest.approx([limit_a] * chargers)
    assert {x.reason for x in result.limits.values()} == {reason}


def _car(
    since: float, currents: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> ChargerObservation:
    return ChargerObservation(
        online=True,
        vehicle_connected=True,
        currents_a=currents,
        measured_at=since,
        session_started_at=since,
    )


def test_worst_phase_first_come() -> None:
    fcfs = WorstPhaseFcfs(_site(3, 63.0), ControllerSettings(meter_timeout_s=10))
    snapshot = Snapshot(
        now=100.0,
        meters={"m": MeterReading(currents_a=(30.0, 45.0, 35.0), at=99.0)},
        chargers={"c0": _car(50.0, (5.0, 5.0, 5.0)), "c1": _car(20.0), "c2": _car(80.0)},
    )
    limits = fcfs.step(snapshot).limits
    # Worst line L2: 63 - 2 - (45 - 5) = 21 A for everyone; c1 came first.
    assert (limits["c1"].limit_a, limits["c0"].limit_a, limits["c2"].limit_a) == (16, 0, 0)
    assert limits["c0"].reason is Reason.BELOW_MINIMUM


def test_worst_phase_failsafe_on_stale_meter() -> None:
    fcfs = WorstPhaseFcfs(_site(2, 63.0, 40.0))
    snapshot = Snapshot(
        now=100.0,
        meters={"m": MeterReading(currents_a=(10.0, 10.0, 10.0), at=80.0)},
        chargers={"c0": _car(50.0)},
    )
    result = fcfs.step(snapshot)
    assert result.failsafe_nodes == {"site", "g"}
    assert (result.limits["c0"].limit_a, result.limits["c0"].reason) == (6.0, Reason.FAILSAFE)
    assert result.limits["c1"].reason is Reason.NOT_CHARGING


def test_worst_phase_releases_a_full_car() -> None:
    fcfs = WorstPhaseFcfs(_site(1, 63.0))
    meters = {"m": MeterReading(currents_a=(0.0, 0.0, 0.0), at=0.0)}
    first = fcfs.step(Snapshot(now=0.0, meters=meters, chargers={"c0": _car(0.0)}))
    assert first.limits["c0"].limit_a == 16
    # 40 s after the offer the car draws almost nothing: it is full, its place goes to others.
    later = Snapshot(
        now=40.0,
        meters={"m": MeterReading(currents_a=(0.0, 0.0, 0.0), at=40.0)},
        chargers={
            "c0": ChargerObservation(
                online=True,
                vehicle_connected=True,
                currents_a=(0.2, 0.2, 0.2),
                measured_at=40.0,
                session_started_at=0.0,
            )
        },
    )
    assert fcfs.step(later).limits["c0"].reason is Reason.VEHICLE_DEMAND
