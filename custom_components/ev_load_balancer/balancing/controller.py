"""The control loop around the allocation: one `Controller.step` per snapshot.

Each step, driven only by `Snapshot.now`:

1. Observe each charger: offline (not online, or a car connected but no fresh meter values),
   disabled, without a car, or taking part (one whose meter values have no current per phase
   takes part with its draw left in the non-EV load). One seen drawing above its settled
   limit is counted as offline, at its maximum, until its car leaves or it keeps to its limit. Learn the phases its car uses from the
   per-conductor currents, whether the car draws less than offered (its demand), and the
   energy it received since the car was connected.
2. Failsafe: a node whose meter reading is missing, incomplete or older than
   `meter_timeout_s`, and every node below it. Chargers there get at most the site's
   failsafe current (0 A when that is below their minimum).
3. Available current per node and line: a metered node's limit minus margin, reserve and
   non-EV load (meter minus what the chargers below draw, never below 0); a failsafe node's
   the same with the last non-EV load seen; an unmetered node's limit. Offline chargers are taken off
   at the most they could draw (their last limit or the current of their own base profile,
   whichever is higher, see `fallback`; their maximum when unknown).
4. Rotation: every `rotation_interval_s` the chargers are ranked by least energy received;
   between rotations a charger that charges keeps its place ahead of paused ones, so a paused
   charger resumes early only when room appears for it.
5. Allocation (see `allocate`): priority levels from the highest, minimums by rank, the rest
   by strategy; a car that draws less than offered is capped at what it draws plus
   `demand_headroom_a` (paused when it draws almost nothing) and offered its full share
   again every `reoffer_interval_s`.
6. Dynamics: lowering is sent at once. A raise waits `settle_s` after the charger's last
   change, grows by at most `raise_step_a`, waits when the hourly change budget is used up,
   and only takes room that others have really left: every charger counts at the largest of
   what it draws, its new limit and, until its last change has settled, the limit before (a
   car may not have reacted yet), so the same headroom is never given twice. A charger report
   newer than the meter reading counts at most as much as the report before it. Targets leave `min_change_a` free on every node
   line, a dead band: a limit already sent is kept while everything still fits (for cuts
   smaller than `min_change_a`), so small swings of the non-EV load change nothing; raises
   smaller than `min_change_a` are not sent.

Safety: for every node and line, the limits sent (times each charger's load lines) plus
offline chargers at their worst case fit the available current computed in step 3. When that
is impossible even with all chargers paused (non-EV load alone over the limit, or offline
chargers), every controllable charger below is paused at 0 A.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import math
from typing import Any

from .allocate import EPSILON_A, Allocation, Demand, allocate
from .electrical import UNUSED_BELOW_A, line_currents, load_lines, observed_phases
from .fallback import fallback_currents
from .model import (
    ChargerConfig,
    ChargerLimit,
    ChargerObservation,
    ControllerSettings,
    Line,
    MeterReading,
    PhaseCurrents,
    Reason,
    SiteConfig,
    Snapshot,
    StepResult,
)
from .topology import node_paths

HOUR_S = 3600.0
IGNORED_ABOVE_A = 1.0
IGNORED_ABOVE_SHARE = 0.1
"""A settled charger drawing more than its limit plus the larger of these ignores it."""
STATE_VERSION = 1
OBEDIENCE_AFTER_S = 5.0
"""A charger and its car get at least this long to follow a change before being judged."""


@dataclass(kw_only=True, slots=True)
class _Memory:
    """What the controller keeps about one charger between steps (updated in place)."""

    limit_a: float | None = None
    """The last limit decided; None until the first step that controls it."""
    ramp_from_a: float = 0.0
    """The limit before the last change: the car may still draw it until settled."""
    changed_at: float | None = None
    changes: tuple[float, ...] = ()
    """When changes were sent within the last hour."""
    car_phases: int | None = None
    demand_floor_a: float | None = None
    """What a car that draws less than offered draws; None when it takes its offer."""
    demand_since: float | None = None
    ignores_limit: bool = False
    """Seen drawing above its settled limit: counted at its maximum until the car leaves."""
    energy_wh: float = 0.0
    """Received since the car was connected: the rotation's fairness measure."""
    report_at: float | None = None
    report_a: tuple[float, ...] = ()
    earlier_report_a: tuple[float, ...] = ()
    """The report before the latest one."""
    drawn_cache: tuple[tuple[float | None, float], tuple[PhaseCurrents, PhaseCurrents]] | None = (
        None
    )
    """(report time, ceiling) and the draw per site line `_drawn` gave for them."""


@dataclass(frozen=True, kw_only=True)
class _View:
    """One charger as this step sees it."""

    config: ChargerConfig
    path: tuple[str, ...]
    status: Reason | None
    """OFFLINE, DISABLED or NOT_CHARGING; None when it takes part."""
    lines: tuple[Line, ...]
    drawn_a: PhaseCurrents
    """Measured per site line (0 when not fresh), at most the limit it may still draw."""
    drawn_before_a: PhaseCurrents
    """The same, but no more than the report before: what a meter read before `reported_at`
    may show of this charger."""
    report_a: tuple[float, ...]
    """The fresh report per conductor (empty when there is none)."""
    unsettled_ceiling_a: float
    """The most it may draw while its last change has not settled: the limits before it."""
    changed_at: float | None
    reported_at: float
    may_draw_a: float
    """The highest limit the charger may still follow: its limit in force, or the one before
    while the last change has not settled (the car may not have reacted yet)."""
    previous_a: float | None
    """The limit in force before this step, None when unknown."""
    arrival: float
    memory: _Memory


class Controller:
    """Balances the chargers of one site, one snapshot at a time."""

    def __init__(self, config: SiteConfig, settings: ControllerSettings | None = None) -> None:
        """Start with no history; raises ValueError on an inconsistent group tree."""
        self._settings = settings or ControllerSettings()
        self._config = config
        self._paths = node_paths(config)
        self._fallback_a = fallback_currents(config)
        self._memory: dict[str, _Memory] = {}
        self._turn: dict[str, int] = {}
        self._rotated_at: float | None = None
        self._last_now: float | None = None
        self._non_ev: dict[str, PhaseCurrents] = {}
        """Per metered node, the non-EV load last seen."""

    def reconfigure(self, config: SiteConfig) -> None:
        """Take a new configuration, keeping what is known of chargers that remain."""
        self._paths = node_paths(config)
        self._fallback_a = fallback_currents(config)
        self._config = config
        kept = {charger.id for charger in config.chargers}
        self._memory = {key: value for key, value in self._memory.items() if key in kept}
        for memory in self._memory.values():
            memory.drawn_cache = None  # the wiring may have changed
        self._turn = {key: value for key, value in self._turn.items() if key in kept}
        self._non_ev = {key: value for key, value in self._non_ev.items() if key in self._paths}

    def export_state(self) -> dict[str, Any]:
        """Return what must survive a restart (JSON-safe): energy per charger, rotation order."""
        return {
            "version": STATE_VERSION,
            "energy_wh": {key: m.energy_wh for key, m in self._memory.items() if m.energy_wh},
            "turn": sorted(self._turn, key=self._turn.__getitem__),
        }

    def restore_state(self, data: Mapping[str, Any]) -> None:
        """Take back what `export_state` gave; unknown chargers and malformed parts are ignored."""
        if data.get("version") != STATE_VERSION:
            return
        known = {charger.id for charger in self._config.chargers}
        energy = data.get("energy_wh")
        if isinstance(energy, dict):
            for key, value in energy.items():
                if key in known and isinstance(value, int | float) and math.isfinite(value):
                    self._memory.setdefault(key, _Memory()).energy_wh = max(float(value), 0.0)
        turn = data.get("turn")
        if isinstance(turn, list):
            ids = [key for key in turn if isinstance(key, str) and key in known]
            self._turn = {key: position for position, key in enumerate(dict.fromkeys(ids))}

    def step(self, snapshot: Snapshot) -> StepResult:
        """Decide every charger's limit for this snapshot."""
        now = snapshot.now
        elapsed_s = 0.0 if self._last_now is None else now - self._last_now
        self._last_now = now
        views = {
            charger.id: self._observe(charger, snapshot.chargers.get(charger.id), now, elapsed_s)
            for charger in self._config.chargers
        }
        failsafe = self._failsafe_nodes(snapshot.meters, now)
        offline = self._offline(views)
        available = self._available(snapshot.meters, views, failsafe, offline)
        turns = self._turns(views, now)
        targets = self._targets(views, available, failsafe, turns)
        limits = self._dynamics(views, targets, available, turns, now)
        allocated = self._allocated(views, limits)
        headroom = {
            node_id: _sub(available[node_id], _sub(allocated[node_id], offline[node_id]))
            for node_id in self._paths
        }
        return StepResult(
            limits=limits,
            headroom_a=headroom,
            allocated_a=allocated,
            failsafe_nodes=failsafe,
        )

    # Step 1: observation.

    def _observe(
        self,
        charger: ChargerConfig,
        observation: ChargerObservation | None,
        now: float,
        elapsed_s: float,
    ) -> _View:
        settings, site = self._settings, self._config
        memory = self._memory.setdefault(charger.id, _Memory())
        reporting = (
            observation is not None
            and observation.measured_at is not None
            and now - observation.measured_at <= settings.charger_timeout_s
        )
        fresh = reporting and observation is not None and observation.currents_a is not None
        currents_a = (
            observation.currents_a if fresh and observation and observation.currents_a else ()
        )
        previous_a = memory.limit_a
        if previous_a is None and observation is not None:
            previous_a = observation.applied_limit_a
        if fresh and observation and observation.measured_at != memory.report_at:
            self._judge_obedience(memory, currents_a, previous_a, observation.measured_at)
        if observation is None or not observation.online:
            status: Reason | None = Reason.OFFLINE
        elif observation.vehicle_connected and (not reporting or memory.ignores_limit):
            status = Reason.OFFLINE
        elif not observation.vehicle_connected:
            status = Reason.NOT_CHARGING
            memory.car_phases = memory.demand_floor_a = memory.demand_since = None
            memory.energy_wh = 0.0
            memory.ignores_limit = False
        elif not fresh:
            # Meter values without current per phase: it takes part, but what it draws stays
            # in the non-EV load (counted twice, the safe side) and nothing is learned.
            status = None if charger.enabled else Reason.DISABLED
        else:
            status = None if charger.enabled else Reason.DISABLED
            self._learn(
                memory,
                charger=charger,
                currents_a=currents_a,
                previous_a=previous_a,
                now=now,
                measured_at=now if observation.measured_at is None else observation.measured_at,
                elapsed_s=elapsed_s,
            )
        if fresh and observation and observation.measured_at != memory.report_at:
            memory.earlier_report_a = (
                memory.report_a if memory.report_at is not None else currents_a
            )
            memory.report_a, memory.report_at = currents_a, observation.measured_at
        settled = memory.changed_at is None or now - memory.changed_at >= settings.settle_s
        # Until a change has settled the car may still follow the limit before it.
        unsettled_ceiling_a = (
            math.inf if previous_a is None else max(previous_a, memory.ramp_from_a)
        )
        ceiling_a = previous_a if settled and previous_a is not None else unsettled_ceiling_a
        # A charger that still holds a higher limit than decided (a cut in flight, refused or
        # unanswered) may draw up to it, however long ago the cut was decided.
        held_a = observation.applied_limit_a if observation is not None else None
        if held_a is not None and previous_a is not None and held_a > previous_a:
            unsettled_ceiling_a = max(unsettled_ceiling_a, held_a)
            ceiling_a = max(ceiling_a, held_a)
        else:
            held_a = None
        if memory.ignores_limit:
            ceiling_a = math.inf  # what it draws is charging, whatever its limit says
        car_phases = charger.phases if status is Reason.OFFLINE else memory.car_phases
        # Most steps see the same report under the same ceiling as the step before.
        key = (memory.report_at if fresh else None, ceiling_a)
        cached = memory.drawn_cache
        if cached is None or cached[0] != key:
            drawn = self._drawn(charger, currents_a, memory.earlier_report_a, ceiling_a)
            cached = memory.drawn_cache = (key, drawn)
        drawn_a, drawn_before_a = cached[1]
        return _View(
            config=charger,
            path=self._paths[charger.group],
            status=status,
            lines=load_lines(charger, site.grid, site.phases, car_phases or charger.phases),
            drawn_a=drawn_a,
            drawn_before_a=drawn_before_a,
            report_a=currents_a,
            unsettled_ceiling_a=unsettled_ceiling_a,
            changed_at=memory.changed_at,
            reported_at=memory.report_at if fresh and memory.report_at is not None else -math.inf,
            may_draw_a=0.0
            if status is Reason.NOT_CHARGING
            else max(
                previous_a or 0.0,
                0.0 if settled or math.isinf(memory.ramp_from_a) else memory.ramp_from_a,
                held_a or 0.0,
            ),
            previous_a=previous_a,
            arrival=(observation.session_started_at if observation else None) or math.inf,
            memory=memory,
        )

    def _judge_obedience(
        self,
        memory: _Memory,
        currents_a: tuple[float, ...],
        limit_a: float | None,
        measured_at: float | None,
    ) -> None:
        """Judge from a report taken once the last change settled whether it keeps its limit.

        A little above the limit is meter tolerance. However short the settle time is set,
        a report within `OBEDIENCE_AFTER_S` of a change may precede the charger's reaction.
        """
        if limit_a is None or measured_at is None:
            return
        if memory.changed_at is not None and (
            measured_at - memory.changed_at < max(self._settings.settle_s, OBEDIENCE_AFTER_S)
        ):
            return
        allowed_a = limit_a + max(IGNORED_ABOVE_A, IGNORED_ABOVE_SHARE * limit_a)
        memory.ignores_limit = max(currents_a, default=0.0) > allowed_a

    def _drawn(
        self,
        charger: ChargerConfig,
        report_a: tuple[float, ...],
        earlier_report_a: tuple[float, ...],
        ceiling_a: float,
    ) -> tuple[PhaseCurrents, PhaseCurrents]:
        """Return the charger's draw per site line: latest report, and at most the one before."""
        grid, phases = self._config.grid, self._config.phases
        latest_a = line_currents(charger, grid, phases, report_a, ceiling_a)
        before_a = _lower(report_a, earlier_report_a)
        if before_a == report_a:
            return latest_a, latest_a
        return latest_a, line_currents(charger, grid, phases, before_a, ceiling_a)

    def _learn(
        self,
        memory: _Memory,
        *,
        charger: ChargerConfig,
        currents_a: tuple[float, ...],
        previous_a: float | None,
        now: float,
        measured_at: float,
        elapsed_s: float,
    ) -> None:
        """Update the car's phases, demand and energy from fresh meter values."""
        settings, site = self._settings, self._config
        memory.car_phases = observed_phases(currents_a, site.grid) or memory.car_phases
        # An ordering key only: V x sum of conductor currents is close enough for that.
        memory.energy_wh += (
            site.voltage_v
            * max(sum(currents_a[: charger.phases]), 0.0)
            * min(max(elapsed_s, 0.0), settings.charger_timeout_s)
            / HOUR_S
        )
        drawn_a = max(currents_a, default=0.0)
        headroom_a = settings.demand_headroom_a
        if memory.demand_floor_a is not None and memory.demand_since is not None:
            wants_more = drawn_a >= memory.demand_floor_a + headroom_a / 2
            if wants_more or now - memory.demand_since >= settings.reoffer_interval_s:
                memory.demand_floor_a = memory.demand_since = None
            else:
                memory.demand_floor_a = min(memory.demand_floor_a, drawn_a)
            return
        # Only a report taken once the last change has settled tells what the car wants.
        settled = memory.changed_at is None or measured_at - memory.changed_at >= settings.settle_s
        if settled and previous_a and drawn_a < previous_a - headroom_a:
            memory.demand_floor_a, memory.demand_since = drawn_a, now

    # Steps 2 and 3: failsafe and available current.

    def _failsafe_nodes(self, meters: Mapping[str, MeterReading], now: float) -> frozenset[str]:
        stale = {
            node.id
            for node in self._config.nodes
            if node.meter_id is not None and not self._fresh(meters.get(node.meter_id), now)
        }
        return frozenset(
            node_id for node_id, path in self._paths.items() if stale.intersection(path)
        )

    def _fresh(self, reading: MeterReading | None, now: float) -> bool:
        return (
            reading is not None
            and now - reading.at <= self._settings.meter_timeout_s
            and all(current is not None for current in reading.currents_a[: self._config.phases])
        )

    def _available(
        self,
        meters: Mapping[str, MeterReading],
        views: Mapping[str, _View],
        failsafe: frozenset[str],
        offline: Mapping[str, PhaseCurrents],
    ) -> dict[str, PhaseCurrents]:
        """Per node and line: what controllable chargers below it may draw in total."""
        read_at = {
            node.id: meters[node.meter_id].at
            for node in self._config.nodes
            if node.meter_id is not None and node.id not in failsafe
        }
        drawn: dict[str, PhaseCurrents] = dict.fromkeys(self._paths, (0.0, 0.0, 0.0))
        for view in views.values():
            for node_id in view.path:
                node_read_at = read_at.get(node_id, math.inf)
                # A meter read before the charger's last change was sent saw it under the
                # limits before; one read later may already see it follow the new limit.
                if view.changed_at is not None and node_read_at < view.changed_at:
                    latest_a, before_a = self._drawn(
                        view.config,
                        view.report_a,
                        view.memory.earlier_report_a,
                        view.unsettled_ceiling_a,
                    )
                else:
                    latest_a, before_a = view.drawn_a, view.drawn_before_a
                # A report newer than the meter reading may show a rise the meter has not
                # seen yet: subtracting it would hide non-EV load.
                seen = before_a if view.reported_at > node_read_at else latest_a
                drawn[node_id] = _add(drawn[node_id], seen)
        kept_a = self._config.margin_a + self._config.reserve_a
        available: dict[str, PhaseCurrents] = {}
        for node in self._config.nodes:
            if node.meter_id is None:
                free = node.limit_a
            else:
                if node.id not in failsafe:
                    below = drawn[node.id] if node.meter_includes_chargers else (0.0, 0.0, 0.0)
                    self._non_ev[node.id] = _non_ev(meters[node.meter_id], below)
                # On failsafe the last non-EV load seen is the best guess there is.
                non_ev = self._non_ev.get(node.id, (0.0, 0.0, 0.0))
                free = _sub(node.limit_a, _add(non_ev, (kept_a, kept_a, kept_a)))
            free = _sub(free, offline[node.id])
            available[node.id] = (free[0], 0.0, 0.0) if self._config.phases == 1 else free
        return available

    def _offline(self, views: Mapping[str, _View]) -> dict[str, PhaseCurrents]:
        """Sum per node what offline chargers below it could draw at most, per line."""
        offline: dict[str, PhaseCurrents] = dict.fromkeys(self._paths, (0.0, 0.0, 0.0))
        for view in views.values():
            if view.status is Reason.OFFLINE:
                worst = _on_lines(self._worst_a(view), view.lines)
                for node_id in view.path:
                    offline[node_id] = _add(offline[node_id], worst)
        return offline

    def _worst_a(self, view: _View) -> float:
        """Return the most an offline charger could draw: its last limit or its own fallback.

        Its maximum when that is unknown or when it ignores its limit.
        """
        if view.previous_a is None or view.memory.ignores_limit:
            return view.config.max_a
        fallback_a = self._fallback_a[view.config.id]
        # may_draw_a covers the last limit, one it may still follow and one it still holds.
        return min(view.config.max_a, max(view.may_draw_a, fallback_a))

    @property
    def fallback_a(self) -> Mapping[str, float]:
        """Per charger, the current of its base profile (see `fallback_currents`)."""
        return self._fallback_a

    # Steps 4 and 5: rotation and allocation.

    def _turns(self, views: Mapping[str, _View], now: float) -> dict[str, int]:
        """Rank the chargers that take part: who keeps charging when not all can."""
        taking_part = [view for view in views.values() if view.status is None]
        restored = self._rotated_at is None and bool(self._turn)
        rotate = (
            self._rotated_at is None or now - self._rotated_at >= self._settings.rotation_interval_s
        )
        if rotate:
            self._rotated_at = now
        if rotate and not restored:
            ranked = sorted(taking_part, key=lambda v: (v.memory.energy_wh, v.config.id))
            self._turn = {view.config.id: position for position, view in enumerate(ranked)}
            return dict(self._turn)
        ranked = sorted(
            taking_part,
            key=lambda v: (
                not v.previous_a,
                self._turn.get(v.config.id, len(self._turn)),
                v.memory.energy_wh,
                v.config.id,
            ),
        )
        return {view.config.id: position for position, view in enumerate(ranked)}

    def _targets(
        self,
        views: Mapping[str, _View],
        available: Mapping[str, PhaseCurrents],
        failsafe: frozenset[str],
        turns: Mapping[str, int],
    ) -> dict[str, Allocation]:
        """Decide what every charger should get if it could change at once."""
        site, settings = self._config, self._settings
        targets: dict[str, Allocation] = {}
        demands: list[Demand] = []
        for view in views.values():
            charger = view.config
            if view.status is Reason.OFFLINE:
                targets[charger.id] = Allocation(limit_a=self._worst_a(view), reason=view.status)
                continue
            if view.status is not None:
                targets[charger.id] = Allocation(limit_a=0.0, reason=view.status)
                continue
            max_a = charger.max_a
            if view.path[0] in failsafe:
                if site.failsafe_a < charger.min_a:
                    targets[charger.id] = Allocation(limit_a=0.0, reason=Reason.FAILSAFE)
                    continue
                max_a = min(max_a, site.failsafe_a)
            floor_a = view.memory.demand_floor_a
            if floor_a is not None and floor_a < UNUSED_BELOW_A:
                # A car that takes nothing (full, or waiting) need not hold a minimum current.
                targets[charger.id] = Allocation(limit_a=0.0, reason=Reason.VEHICLE_DEMAND)
                continue
            demands.append(
                Demand(
                    id=charger.id,
                    nodes=view.path,
                    lines=view.lines,
                    min_a=charger.min_a,
                    max_a=max_a,
                    demand_a=math.inf if floor_a is None else floor_a + settings.demand_headroom_a,
                    priority=charger.priority,
                    arrival=view.arrival,
                    turn=turns[charger.id],
                )
            )
        # Targets leave min_change_a free on every node line, a dead band: limits already sent
        # are kept while they fit the full available current, so small swings of the non-EV
        # load cause no changes.
        band_a = settings.min_change_a
        within_band = {
            node_id: (free[0] - band_a, free[1] - band_a, free[2] - band_a)
            for node_id, free in available.items()
        }
        allocations = allocate(within_band, demands, site.strategy)
        if any(_paused(allocation) for allocation in allocations.values()):
            # The band is there to spare changes, never to pause a car the full room holds.
            full = allocate(available, demands, site.strategy)
            if _served(full) > _served(allocations):
                allocations = full
        for charger_id, allocation in allocations.items():
            on_failsafe = views[charger_id].path[0] in failsafe and allocation.limit_a > 0
            targets[charger_id] = (
                Allocation(limit_a=allocation.limit_a, reason=Reason.FAILSAFE)
                if on_failsafe
                else allocation
            )
        return targets

    # Step 6: dynamics.

    def _dynamics(
        self,
        views: Mapping[str, _View],
        targets: Mapping[str, Allocation],
        available: Mapping[str, PhaseCurrents],
        turns: Mapping[str, int],
        now: float,
    ) -> dict[str, ChargerLimit]:
        """Turn targets into the limits to send now."""
        settings = self._settings
        controlled = [view for view in views.values() if view.status is not Reason.OFFLINE]
        limit_a: dict[str, float] = {}
        small_cuts: list[_View] = []
        raises: list[_View] = []
        for view in controlled:
            target_a, previous_a = targets[view.config.id].limit_a, view.previous_a
            if target_a == previous_a or (previous_a is None and target_a == 0):
                limit_a[view.config.id] = target_a
            elif previous_a is not None and target_a < previous_a:
                small = target_a > 0 and previous_a - target_a < settings.min_change_a
                limit_a[view.config.id] = previous_a if small else target_a
                if small:
                    small_cuts.append(view)
            else:
                # An unknown limit (first step) is raised like one at 0 A: only into room
                # that the chargers' present draw leaves.
                limit_a[view.config.id] = previous_a or 0.0
                raises.append(view)
        # Keep small cuts unsent only while every node stays within its limit.
        loads = _loads(controlled, limit_a) if small_cuts else {}
        for key, load_a in loads.items():
            if load_a > _at(available, key) + EPSILON_A:
                for view in small_cuts:
                    if key[0] in view.path and key[1] in view.lines:
                        limit_a[view.config.id] = targets[view.config.id].limit_a
        reasons = {key: target.reason for key, target in targets.items()}
        ready: list[tuple[_View, float]] = []
        for view in raises:
            wanted_a, held = self._wanted(view, targets[view.config.id], now)
            if wanted_a is not None:
                ready.append((view, wanted_a))
            elif held is not None:
                reasons[view.config.id] = held
        if ready:
            room = _room(controlled, limit_a, available)
            ready.sort(
                key=lambda r: (-r[0].config.priority, turns.get(r[0].config.id, 0), r[0].config.id)
            )
            for view, wanted_a in ready:
                target = targets[view.config.id]
                limit_a[view.config.id], held = _grant(view, wanted_a, target, room, self._settings)
                if held is not None:
                    reasons[view.config.id] = held
        return {
            view.config.id: self._decide(
                view, targets[view.config.id], limit_a.get(view.config.id), reasons, now
            )
            for view in views.values()
        }

    def _wanted(
        self, view: _View, target: Allocation, now: float
    ) -> tuple[float | None, Reason | None]:
        """Return how far a charger should be raised now, or None and why it waits."""
        settings, charger, memory = self._settings, view.config, view.memory
        if view.previous_a is None:
            return target.limit_a, None
        previous_a = view.previous_a
        if memory.changed_at is not None and now - memory.changed_at < settings.settle_s:
            return None, Reason.RAMP_HOLD
        if len(_recent(memory.changes, now)) >= settings.max_changes_per_hour:
            return None, Reason.CHANGE_BUDGET
        wanted_a = min(target.limit_a, max(charger.min_a, previous_a + settings.raise_step_a))
        if wanted_a - previous_a < settings.min_change_a:
            return None, None
        return wanted_a, None

    def _decide(
        self,
        view: _View,
        target: Allocation,
        limit_a: float | None,
        reasons: Mapping[str, Reason],
        now: float,
    ) -> ChargerLimit:
        """Record the decision for one charger and describe it."""
        charger, memory = view.config, view.memory
        if limit_a is None:  # offline: nothing is sent, it is counted at its worst case
            return ChargerLimit(limit_a=target.limit_a, phases=charger.phases, reason=target.reason)
        if limit_a != view.previous_a:
            memory.ramp_from_a = math.inf if view.previous_a is None else view.previous_a
            memory.limit_a, memory.changed_at = limit_a, now
            memory.changes = (*_recent(memory.changes, now), now)
        reason = reasons[charger.id]
        if reason is not target.reason:
            return ChargerLimit(limit_a=limit_a, phases=charger.phases, reason=reason)
        return ChargerLimit(
            limit_a=limit_a,
            phases=charger.phases,
            reason=reason,
            node_id=target.node_id,
            line=target.line,
        )

    def _allocated(
        self, views: Mapping[str, _View], limits: Mapping[str, ChargerLimit]
    ) -> dict[str, PhaseCurrents]:
        allocated: dict[str, PhaseCurrents] = dict.fromkeys(self._paths, (0.0, 0.0, 0.0))
        for view in views.values():
            load = _on_lines(limits[view.config.id].limit_a, view.lines)
            for node_id in view.path:
                allocated[node_id] = _add(allocated[node_id], load)
        return allocated


def _grant(
    view: _View,
    wanted_a: float,
    target: Allocation,
    room: dict[tuple[str, Line], float],
    settings: ControllerSettings,
) -> tuple[float, Reason | None]:
    """Raise a charger as far as the room others have really left allows."""
    previous_a = view.previous_a or 0.0
    keys = [(node_id, line) for node_id in view.path for line in view.lines]
    counted = {key: max(view.drawn_a[key[1]], view.may_draw_a) for key in keys}
    fits_a = min((room[key] + counted[key] for key in keys), default=math.inf)
    waiting = fits_a < wanted_a or wanted_a < target.limit_a
    granted_a = min(wanted_a, fits_a)
    if granted_a < view.config.min_a or granted_a - previous_a < settings.min_change_a:
        return previous_a, Reason.RAMP_HOLD if waiting else None
    for key in keys:
        room[key] -= max(view.drawn_a[key[1]], view.may_draw_a, granted_a) - counted[key]
    return granted_a, Reason.RAMP_HOLD if waiting else None


def _paused(allocation: Allocation) -> bool:
    return allocation.reason in (Reason.BELOW_MINIMUM, Reason.ROTATION)


def _served(allocations: Mapping[str, Allocation]) -> int:
    return sum(1 for allocation in allocations.values() if allocation.limit_a > 0)


def _non_ev(reading: MeterReading, chargers_a: PhaseCurrents) -> PhaseCurrents:
    """Return the meter's reading less what the chargers draw, per line.

    Never below 0: a meter that reads less than the chargers draw must not add room.
    """
    measured = [current_a or 0.0 for current_a in reading.currents_a]
    return (
        max(measured[0] - chargers_a[0], 0.0),
        max(measured[1] - chargers_a[1], 0.0),
        max(measured[2] - chargers_a[2], 0.0),
    )


def _lower(latest: tuple[float, ...], earlier: tuple[float, ...]) -> tuple[float, ...]:
    """Per conductor, the smaller of two reports (the latest when the earlier has no value)."""
    if len(earlier) != len(latest):
        return latest
    return tuple(min(a, b) for a, b in zip(latest, earlier, strict=True))


def _recent(times: Iterable[float], now: float) -> tuple[float, ...]:
    return tuple(at for at in times if now - at < HOUR_S)


def _add(left: PhaseCurrents, right: PhaseCurrents) -> PhaseCurrents:
    return (left[0] + right[0], left[1] + right[1], left[2] + right[2])


def _sub(left: PhaseCurrents, right: PhaseCurrents) -> PhaseCurrents:
    return (left[0] - right[0], left[1] - right[1], left[2] - right[2])


def _on_lines(current_a: float, lines: Iterable[Line]) -> PhaseCurrents:
    per_line = [0.0, 0.0, 0.0]
    for line in lines:
        per_line[line] += current_a
    return (per_line[0], per_line[1], per_line[2])


def _at(available: Mapping[str, PhaseCurrents], key: tuple[str, Line]) -> float:
    return available[key[0]][key[1]]


def _loads(views: Iterable[_View], limit_a: Mapping[str, float]) -> dict[tuple[str, Line], float]:
    """Per node line: the sum of the chargers' limits on it."""
    loads: dict[tuple[str, Line], float] = {}
    for view in views:
        for node_id in view.path:
            for line in view.lines:
                key = (node_id, line)
                loads[key] = loads.get(key, 0.0) + limit_a[view.config.id]
    return loads


def _room(
    views: Iterable[_View],
    limit_a: Mapping[str, float],
    available: Mapping[str, PhaseCurrents],
) -> dict[tuple[str, Line], float]:
    """Per node line: what is free when every charger counts at the most it may draw soon.

    That is the largest of what it draws, its new limit and the limits it may still follow.
    """
    room = {
        (node_id, Line(line)): free[line]
        for node_id, free in available.items()
        for line in range(3)
    }
    for view in views:
        for line in Line:
            limit = max(limit_a[view.config.id], view.may_draw_a) if line in view.lines else 0.0
            counted_a = max(view.drawn_a[line], limit)
            for node_id in view.path:
                room[node_id, line] -= counted_a
    return room
