"""Baselines that present the controller's interface: `step(snapshot) -> StepResult`.

- `StaticBaseline`: what a site without dynamic balancing does. Every charger gets its share
  of every node above it (node limit / number of chargers below that node, the smallest of
  these, capped at the charger's maximum), fixed. A share below the charger's minimum cannot
  be offered, so that charger gets 0 A: on a 63 A fuse with 50 chargers nobody charges, which
  is exactly why such sites need a balancer.
- `WorstPhaseFcfs`: how several open-source peers balance. Per metered node, the room on the
  worst line (limit - margin - non-EV load) is one budget for all phases; cars are served
  first come first served, each taking its whole limit out of the budget of every node above
  it whatever its phases. Limits are whole amperes, a car that stops drawing is released, and a
  stale meter puts the chargers below it on the failsafe current.
"""

from __future__ import annotations

import math

from custom_components.ev_load_balancer.balancing.model import (
    ChargerLimit,
    ControllerSettings,
    Reason,
    SiteConfig,
    Snapshot,
    StepResult,
)

from .site import conductor_lines, node_path

# A car is considered done (full, or stopped by itself) when it draws less than this...
_DONE_BELOW_A = 1.0
# ... in a report taken this long after it was offered at least its minimum.
_DONE_AFTER_S = 30.0


class StaticBaseline:
    """Fixed limits from the fuse and the number of chargers."""

    def __init__(self, config: SiteConfig, settings: ControllerSettings | None = None) -> None:
        del settings  # nothing to tune: the limits never change
        lines = range(config.phases)
        count = {n.id: 0 for n in config.nodes}
        for c in config.chargers:
            for node in node_path(config, c.group):
                count[node] += 1
        limit = {n.id: min(n.limit_a[k] for k in lines) for n in config.nodes}
        limits = {}
        for c in config.chargers:
            share = min(limit[n] / count[n] for n in node_path(config, c.group))
            if share >= c.max_a:
                limits[c.id] = ChargerLimit(
                    limit_a=c.max_a, phases=c.phases, reason=Reason.CHARGER_MAX
                )
            elif share >= c.min_a:
                limits[c.id] = ChargerLimit(
                    limit_a=share, phases=c.phases, reason=Reason.NODE_LIMIT
                )
            else:
                limits[c.id] = ChargerLimit(
                    limit_a=0.0, phases=c.phases, reason=Reason.BELOW_MINIMUM
                )
        self._result = StepResult(
            limits=limits, headroom_a={}, allocated_a={}, failsafe_nodes=frozenset()
        )

    def step(self, snapshot: Snapshot) -> StepResult:
        del snapshot
        return self._result


class WorstPhaseFcfs:
    """One budget per node from its worst line, handed out first come first served."""

    def __init__(self, config: SiteConfig, settings: ControllerSettings | None = None) -> None:
        self._config = config
        self._timeout_s = (settings or ControllerSettings()).meter_timeout_s
        self._paths = {c.id: node_path(config, c.group) for c in config.chargers}
        # Per charger: when it was first offered its minimum in this session, and whether its
        # car has been seen done.
        self._offered_at: dict[str, float] = {}
        self._done: set[str] = set()

    def _budgets(self, snapshot: Snapshot) -> tuple[dict[str, float], frozenset[str]]:
        config = self._config
        margin = config.margin_a + config.reserve_a
        drawn = {n.id: [0.0, 0.0, 0.0] for n in config.nodes}
        for c in config.chargers:
            obs = snapshot.chargers.get(c.id)
            if obs is None or not obs.currents_a:
                continue
            for lines, amps in zip(conductor_lines(config.grid, c), obs.currents_a, strict=False):
                for node in self._paths[c.id]:
                    for line in lines:
                        drawn[node][line] += amps
        budget: dict[str, float] = {}
        stale: set[str] = set()
        for node in config.nodes:
            lines = range(config.phases)
            reading = snapshot.meters.get(node.meter_id) if node.meter_id else None
            if node.meter_id is None:
                budget[node.id] = min(node.limit_a[k] for k in lines)
            elif reading is None or snapshot.now - reading.at > self._timeout_s:
                stale.add(node.id)
                budget[node.id] = 0.0
            else:
                ev = drawn[node.id] if node.meter_includes_chargers else [0.0, 0.0, 0.0]
                budget[node.id] = min(
                    node.limit_a[k] - margin - ((reading.currents_a[k] or 0.0) - ev[k])
                    for k in lines
                )
        failsafe = {n.id for n in config.nodes if any(p in stale for p in node_path(config, n.id))}
        return budget, frozenset(failsafe)

    def step(self, snapshot: Snapshot) -> StepResult:
        budget, failsafe = self._budgets(snapshot)
        now = snapshot.now
        limits: dict[str, ChargerLimit] = {}
        waiting = []
        for c in self._config.chargers:
            obs = snapshot.chargers.get(c.id)
            if obs is None or not obs.online or not obs.vehicle_connected or not c.enabled:
                self._offered_at.pop(c.id, None)
                self._done.discard(c.id)
                limits[c.id] = ChargerLimit(
                    limit_a=0.0, phases=c.phases, reason=Reason.NOT_CHARGING
                )
                continue
            since = self._offered_at.get(c.id)
            if (
                since is not None
                and obs.measured_at is not None
                and obs.measured_at >= since + _DONE_AFTER_S
                and max(obs.currents_a or (0.0,)) < _DONE_BELOW_A
            ):
                self._done.add(c.id)
            if c.id in self._done:
                limits[c.id] = ChargerLimit(
                    limit_a=0.0, phases=c.phases, reason=Reason.VEHICLE_DEMAND
                )
            elif c.group in failsafe:
                limits[c.id] = ChargerLimit(
                    limit_a=self._config.failsafe_a, phases=c.phases, reason=Reason.FAILSAFE
                )
            else:
                waiting.append((obs.session_started_at or 0.0, c))
        for _, c in sorted(waiting, key=lambda w: w[0]):
            path = self._paths[c.id]
            room = math.floor(min(c.max_a, *(budget[n] for n in path)))
            if room < c.min_a:
                self._offered_at.pop(c.id, None)
                limits[c.id] = ChargerLimit(
                    limit_a=0.0, phases=c.phases, reason=Reason.BELOW_MINIMUM
                )
                continue
            for n in path:
                budget[n] -= room
            self._offered_at.setdefault(c.id, now)
            reason = Reason.CHARGER_MAX if room >= c.max_a else Reason.NODE_LIMIT
            limits[c.id] = ChargerLimit(limit_a=float(room), phases=c.phases, reason=reason)
        return StepResult(limits=limits, headroom_a={}, allocated_a={}, failsafe_nodes=failsafe)
