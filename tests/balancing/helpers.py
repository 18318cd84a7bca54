"""Builders for balancing tests: short, explicit sites and snapshots."""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

from custom_components.ev_load_balancer.balancing.controller import Controller
from custom_components.ev_load_balancer.balancing.electrical import line_currents
from custom_components.ev_load_balancer.balancing.model import (
    SITE_NODE_ID,
    ChargerConfig,
    ChargerObservation,
    Line,
    MeterReading,
    NodeConfig,
    SiteConfig,
    Snapshot,
    StepResult,
)

L1, L2, L3 = Line.L1, Line.L2, Line.L3
THREE = (L1, L2, L3)
MAIN_METER = "main"


def charger(charger_id: str, group: str = SITE_NODE_ID, **kwargs: Any) -> ChargerConfig:
    kwargs.setdefault("phases", 3)
    kwargs.setdefault("wiring", THREE if kwargs["phases"] == 3 else (L1,))
    return ChargerConfig(id=charger_id, group=group, **kwargs)


def site(
    *chargers: ChargerConfig,
    fuse_a: float = 25.0,
    metered: bool = True,
    groups: tuple[NodeConfig, ...] = (),
    **kwargs: Any,
) -> SiteConfig:
    root = NodeConfig(
        id=SITE_NODE_ID,
        parent=None,
        limit_a=(fuse_a, fuse_a, fuse_a),
        meter_id=MAIN_METER if metered else None,
    )
    return SiteConfig(nodes=(root, *groups), chargers=chargers, **kwargs)


def group(group_id: str, limit_a: float, parent: str = SITE_NODE_ID, **kwargs: Any) -> NodeConfig:
    return NodeConfig(id=group_id, parent=parent, limit_a=(limit_a, limit_a, limit_a), **kwargs)


def car(*currents_a: float, at: float = 0.0, **kwargs: Any) -> ChargerObservation:
    """A charger with a car connected, reporting `currents_a` per conductor at `at`."""
    kwargs.setdefault("online", True)
    kwargs.setdefault("vehicle_connected", True)
    return ChargerObservation(currents_a=currents_a, measured_at=at, **kwargs)


def idle(at: float = 0.0) -> ChargerObservation:
    """An online charger without a car."""
    return ChargerObservation(
        online=True, vehicle_connected=False, currents_a=(0.0,), measured_at=at
    )


def snapshot(
    now: float,
    chargers: Mapping[str, ChargerObservation],
    main_a: tuple[float | None, float | None, float | None] | None = (0.0, 0.0, 0.0),
    meter_at: float | None = None,
    meters: Mapping[str, MeterReading] | None = None,
) -> Snapshot:
    """A snapshot with the main meter reading `main_a` (None: no reading at all)."""
    readings = dict(meters or {})
    if main_a is not None:
        readings[MAIN_METER] = MeterReading(
            currents_a=main_a, at=now if meter_at is None else meter_at
        )
    return Snapshot(now=now, meters=readings, chargers=chargers)


class SimulatedSite:
    """Cars that follow each new limit by the next snapshot, and a meter that sums them up.

    `wants_a` is what each car would draw per conductor when offered enough.
    """

    def __init__(self, controller: Controller, config: SiteConfig, non_ev_a: float = 0.0) -> None:
        self.controller, self.config = controller, config
        self.non_ev_a = non_ev_a
        self.wants_a: dict[str, tuple[float, ...]] = {}
        self.limits_a: dict[str, float] = {}
        self.energy_as: dict[str, float] = {c.id: 0.0 for c in config.chargers}
        self.last_now: float | None = None

    def draws(self, charger_id: str) -> tuple[float, ...]:
        limit_a = self.limits_a.get(charger_id, 0.0)
        return tuple(min(want_a, limit_a) for want_a in self.wants_a[charger_id])

    def step(self, now: float) -> StepResult:
        observations: dict[str, ChargerObservation] = {}
        total = [self.non_ev_a] * 3
        for config in self.config.chargers:
            if config.id not in self.wants_a:
                observations[config.id] = idle(now)
                continue
            draws = self.draws(config.id)
            observations[config.id] = car(*draws, at=now)
            measured = line_currents(config, self.config.grid, self.config.phases, draws, math.inf)
            total = [a + b for a, b in zip(total, measured, strict=True)]
            if self.last_now is not None:
                self.energy_as[config.id] += max(draws) * (now - self.last_now)
        self.last_now = now
        result = self.controller.step(snapshot(now, observations, (total[0], total[1], total[2])))
        self.limits_a = {key: limit.limit_a for key, limit in result.limits.items()}
        return result
