"""The simulation loop: a site in simulated time, driven by the engine's controller.

One step of `step_s` seconds does, in order: events (cars come and go, faults start and end),
limits whose reaction delay has passed take effect, cars draw current, the meter samples (and
delivers what it sampled `delay_s` ago), chargers report, and the controller runs when a new
reading arrived (at most every `controller.interval_s`, at least every `max_interval_s`), as
the integration's coordinator does. Limits are sent only when they change.

What a car draws: nothing below 6 A offered (IEC 61851), else the smallest of the offer, the
charger's and the car's maximum and the taper near full (the last 20% of the energy wanted
ramps the car's current down to a tenth). A 1-phase car on a 3-phase charger, or a charger
told to use one phase, draws on its first conductor (its first two on IT). An offline charger
keeps its last limit; one that ignores limits acknowledges them and offers its maximum.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
import heapq
import math
import time
from typing import Protocol

import numpy as np

from custom_components.ev_load_balancer.balancing.fallback import fallback_currents
from custom_components.ev_load_balancer.balancing.model import (
    SITE_NODE_ID,
    ChargerObservation,
    ControllerSettings,
    GridType,
    MeterReading,
    SiteConfig,
    Snapshot,
    StepResult,
    Strategy,
)

from .baselines import StaticBaseline, WorstPhaseFcfs
from .scenario import BASELINES, STRATEGIES, Scenario, ScenarioError, Window
from .site import SITE_METER_ID, group_meter_id, node_path, site_config
from .world import SEED_REPORTS, Session, expand_sessions, node_loads

IEC_MIN_DRAW_A = 6.0
TAPER_FROM = 0.8
TAPER_FLOOR = 0.1


class Stepper(Protocol):
    def step(self, snapshot: Snapshot) -> StepResult: ...


def make_controller(strategy: str, config: SiteConfig, settings: ControllerSettings) -> Stepper:
    if strategy == "static":
        return StaticBaseline(config, settings)
    if strategy == "worst_phase_fcfs":
        return WorstPhaseFcfs(config, settings)
    try:
        from custom_components.ev_load_balancer.balancing.controller import Controller
    except ImportError as err:
        raise ScenarioError(
            f"strategy {strategy!r} runs the engine's Controller, which cannot be imported: {err}"
        ) from err
    return Controller(replace(config, strategy=Strategy(strategy)), settings)


@dataclass(frozen=True, kw_only=True)
class Run:
    """Everything a simulation produced, for the metrics and the plots."""

    scenario: Scenario
    strategy: str
    config: SiteConfig
    node_ids: tuple[str, ...]
    node_limit_a: np.ndarray
    """(nodes, 3)."""
    node_current_a: np.ndarray
    """(steps, nodes, 3): what flows through each node's fuse, line by line."""
    node_nonev_a: np.ndarray
    """(steps, nodes, 3): the part of it that is not EV charging."""
    node_uncontrolled_a: np.ndarray | None = None
    """(steps, nodes, 3): non-EV load plus what chargers draw above the limits they were sent
    (a charger that ignores its limits); None: the same as `node_nonev_a`."""
    site_power_kw: np.ndarray
    offered_a: np.ndarray
    """(steps, chargers): the current each charger offers while a car is there, else NaN."""
    sessions: tuple[Session, ...]
    delivered_kwh: np.ndarray
    limit_changes: int
    failsafe_s: float
    cycle_ns: np.ndarray
    wall_s: float


def _steps(seconds: float, step_s: float) -> int:
    return math.ceil(seconds / step_s - 1e-9)


def _window_mask(scenario: Scenario, windows: tuple[Window, ...]) -> np.ndarray:
    mask = np.zeros(scenario.steps, dtype=bool)
    for w in windows:
        begin = _steps(scenario.sim_time(w.at_tod_s), scenario.step_s)
        end = (
            scenario.steps if w.minutes is None else begin + _steps(w.minutes * 60, scenario.step_s)
        )
        mask[begin:end] = True
    return mask


def simulate(scenario: Scenario, strategy: str | None = None) -> Run:
    started = time.perf_counter()
    strategy = strategy or scenario.controller.strategy
    if strategy not in (*STRATEGIES, *BASELINES):
        raise ScenarioError(
            f"strategy: got {strategy!r}, expected one of {', '.join((*STRATEGIES, *BASELINES))}"
        )
    config = site_config(scenario, strategy)
    controller = make_controller(strategy, config, scenario.controller.settings)
    sessions = expand_sessions(scenario)
    site = scenario.site
    dt = scenario.step_s
    n_steps = scenario.steps
    specs = scenario.chargers
    n = len(specs)
    cidx = {c.id: i for i, c in enumerate(specs)}
    node_ids = tuple(node.id for node in config.nodes)
    nidx = {node: j for j, node in enumerate(node_ids)}

    member = np.zeros((len(node_ids), n))
    for i, c in enumerate(specs):
        for node in node_path(config, c.group):
            member[nidx[node], i] = 1.0
    nonev = np.zeros((n_steps, len(node_ids), 3))
    for node, load in node_loads(scenario).items():
        for up in node_path(config, node):
            nonev[:, nidx[up]] += load
    volts_per_line = site.voltage_v / (math.sqrt(3) if site.grid is GridType.IT else 1.0)
    building_w = nonev[:, nidx[SITE_NODE_ID]].sum(axis=1) * volts_per_line

    # Per charger: lines loaded per ampere when the car uses every conductor / only one.
    it = site.grid is GridType.IT
    full = np.zeros((n, 3))
    one = np.zeros((n, 3))
    w_full = np.zeros(n)
    for i, c in enumerate(specs):
        full[i, list(c.wiring)] = 1.0
        one[i, list(c.wiring[: 2 if it else 1])] = 1.0
        w_full[i] = site.voltage_v * (1.0 if c.phases == 1 else math.sqrt(3) if it else 3.0)
    # What a charger reports per conductor, per ampere drawn, for a car on one phase.
    one_phase_report = (1.0, 1.0, 0.0) if it else (1.0, 0.0, 0.0)
    max_a = np.array([c.max_a for c in specs])
    react = [max(0, _steps(c.reaction_s, dt)) for c in specs]
    report_every = np.array([max(1, _steps(c.report_interval_s, dt)) for c in specs])
    rng = np.random.default_rng([scenario.seed, SEED_REPORTS])
    next_report = (rng.random(n) * report_every).astype(int)

    # Events by step: departures before arrivals, so that a charger can change hands.
    events: dict[int, list[tuple[int, str, int]]] = {}
    for s, sess in enumerate(sessions):
        if sess.charger is None or sess.arrive_s >= n_steps * dt:
            continue
        events.setdefault(_steps(sess.arrive_s, dt), []).append((1, "arrive", s))
        if sess.depart_s < n_steps * dt:
            events.setdefault(_steps(sess.depart_s, dt), []).append((0, "depart", s))
    offline = np.zeros((n_steps, n), dtype=bool)
    ignoring = np.zeros((n_steps, n), dtype=bool)
    for fault in scenario.charger_faults:
        target = offline if fault.kind == "charger_offline" else ignoring
        if fault.window is None:
            target[:, cidx[fault.charger]] = True
        else:
            target[:, cidx[fault.charger]] |= _window_mask(scenario, (fault.window,))
    dropout = _window_mask(scenario, scenario.meter.dropouts)

    meter_every = max(1, round(scenario.meter.interval_s / dt))
    meter_delay = _steps(scenario.meter.delay_s, dt)
    metered = [(SITE_METER_ID, nidx[SITE_NODE_ID])] + [
        (group_meter_id(g.id), nidx[g.id]) for g in scenario.groups if g.metered
    ]
    run_min = max(1, _steps(scenario.controller.interval_s, dt))
    run_max = max(run_min, _steps(scenario.controller.max_interval_s, dt))

    # The charger side.
    # The charger's own base profile until told otherwise, as the integration writes it.
    fallback = fallback_currents(config)
    offered = np.array([fallback[c.id] for c in specs])
    cmd_phases = [c.phases for c in specs]
    connected = np.zeros(n, dtype=bool)
    car_phases = [3] * n
    ev_max = np.zeros(n)
    wanted = np.ones(n)
    got = np.zeros(n)
    rows = np.zeros((n, 3))
    watts = np.zeros(n)
    report_pattern: list[tuple[float, ...]] = [(0.0,) * c.phases for c in specs]
    session_of = [-1] * n
    delivered = np.zeros(len(sessions))

    # The controller side: what the coordinator knows.
    online = np.ones(n, dtype=bool)
    reported: list[tuple[float, ...]] = [(0.0,) * c.phases for c in specs]
    reported_at: list[float | None] = [None] * n
    reported_kwh = [0.0] * n
    acknowledged: list[float | None] = [None] * n
    last_sent: list[tuple[float, int] | None] = [None] * n
    observations: dict[str, ChargerObservation] = {}
    dirty = set(range(n))
    readings: dict[str, MeterReading] = {}
    meter_queue: deque[tuple[int, int]] = deque()
    pending: list[tuple[int, int, int, float, int]] = []
    seq = 0

    node_current = np.empty_like(nonev)
    uncontrolled = nonev.copy() if ignoring.any() else None
    power_w = np.empty(n_steps)
    offered_rec = np.full((n_steps, n), np.nan, dtype=np.float32)
    cycle_ns: list[int] = []
    changes = 0
    failsafe_steps = 0
    failsafe_now = False
    # The coordinator starts when the first data comes in, not before.
    last_run = 0
    wake = False

    def set_row(c: int) -> None:
        """Which lines the charger loads now, at what power per ampere, and what it reports."""
        if not connected[c]:
            rows[c], watts[c], report_pattern[c] = 0.0, 0.0, (0.0,) * specs[c].phases
        elif specs[c].phases == 1:
            rows[c], watts[c], report_pattern[c] = full[c], w_full[c], (1.0,)
        elif car_phases[c] == 3 and cmd_phases[c] == 3:
            rows[c], watts[c], report_pattern[c] = full[c], w_full[c], (1.0, 1.0, 1.0)
        else:
            rows[c], watts[c], report_pattern[c] = one[c], site.voltage_v, one_phase_report

    for i in range(n_steps):
        t = i * dt
        for _, kind, s in sorted(events.get(i, ())):
            sess = sessions[s]
            c = cidx[sess.charger or ""]
            if kind == "arrive":
                connected[c] = True
                session_of[c] = s
                car_phases[c] = sess.ev_phases
                ev_max[c] = sess.ev_max_a
                wanted[c] = max(sess.energy_kwh, 1e-9)
                got[c] = 0.0
            else:
                delivered[s] = got[c]
                connected[c] = False
                session_of[c] = -1
            set_row(c)
            reported[c] = (0.0,) * specs[c].phases  # the status notification says so at once
            dirty.add(c)
            wake = True
        for c in np.flatnonzero(online == offline[i]):  # online and should not be, or back
            online[c] = not offline[i, c]
            if online[c]:
                last_sent[c] = None  # resend everything after a reconnect
                next_report[c] = i
            dirty.add(int(c))
            wake = True
        while pending and pending[0][0] <= i:
            _, _, c, limit_a, phases = heapq.heappop(pending)
            offered[c] = limit_a
            cmd_phases[c] = phases
            set_row(c)

        eff = np.where(ignoring[i], max_a, offered)
        frac = got / wanted
        taper = np.clip((1.0 - frac) / (1.0 - TAPER_FROM), TAPER_FLOOR, 1.0)
        cap = np.where(frac >= 1.0, 0.0, np.minimum(max_a, ev_max * taper))
        draw = np.where(connected & (eff >= IEC_MIN_DRAW_A), np.minimum(eff, cap), 0.0)
        node_current[i] = nonev[i] + (member * draw) @ rows
        if uncontrolled is not None and ignoring[i].any():
            obeyed = np.where(
                connected & (offered >= IEC_MIN_DRAW_A), np.minimum(offered, cap), 0.0
            )
            uncontrolled[i] += (member * np.maximum(draw - obeyed, 0.0)) @ rows
        power_w[i] = draw @ watts + building_w[i]
        got = np.minimum(got + draw * watts * (dt / 3.6e6), wanted)
        offered_rec[i] = np.where(connected, eff, np.nan)

        if i % meter_every == 0 and not dropout[i]:
            meter_queue.append((i + meter_delay, i))
        while meter_queue and meter_queue[0][0] <= i:
            _, sample = meter_queue.popleft()
            source = node_current if scenario.meter.includes_chargers else nonev
            for meter_id, j in metered:
                values = source[sample, j]
                currents = tuple(float(values[k]) if k < site.phases else None for k in range(3))
                readings[meter_id] = MeterReading(currents_a=currents, at=sample * dt)  # type: ignore[arg-type]
            wake = True

        for c in np.flatnonzero(next_report <= i):
            next_report[c] += report_every[c]
            if not online[c]:
                continue
            reported[c] = tuple(float(draw[c]) * p for p in report_pattern[c])
            reported_at[c] = t
            reported_kwh[c] = float(got[c])
            dirty.add(int(c))
            wake = True

        if (wake and i - last_run >= run_min) or i - last_run >= run_max:
            for c in dirty:
                s = session_of[c]
                observations[specs[c].id] = ChargerObservation(
                    online=bool(online[c]),
                    vehicle_connected=bool(connected[c]),
                    currents_a=reported[c],
                    measured_at=reported_at[c],
                    session_energy_kwh=reported_kwh[c] if s >= 0 else 0.0,
                    session_started_at=sessions[s].arrive_s if s >= 0 else None,
                    applied_limit_a=acknowledged[c],
                )
            dirty.clear()
            snapshot = Snapshot(now=t, meters=dict(readings), chargers=dict(observations))
            t0 = time.perf_counter_ns()
            result = controller.step(snapshot)
            cycle_ns.append(time.perf_counter_ns() - t0)
            last_run = i
            wake = False
            failsafe_now = bool(result.failsafe_nodes)
            for cid, limit in result.limits.items():
                c = cidx[cid]
                key = (limit.limit_a, limit.phases)
                if online[c] and key != last_sent[c]:
                    last_sent[c] = key
                    acknowledged[c] = limit.limit_a
                    heapq.heappush(pending, (i + react[c], seq, c, limit.limit_a, limit.phases))
                    seq += 1
                    changes += 1
                    dirty.add(c)
        failsafe_steps += failsafe_now

    for c in range(n):
        if session_of[c] >= 0:
            delivered[session_of[c]] = got[c]
    return Run(
        scenario=scenario,
        strategy=strategy,
        config=config,
        node_ids=node_ids,
        node_limit_a=np.array([node.limit_a for node in config.nodes]),
        node_current_a=node_current,
        node_nonev_a=nonev,
        node_uncontrolled_a=uncontrolled,
        site_power_kw=power_w / 1000.0,
        offered_a=offered_rec,
        sessions=sessions,
        delivered_kwh=delivered,
        limit_changes=changes,
        failsafe_s=failsafe_steps * dt,
        cycle_ns=np.asarray(cycle_ns, dtype=np.int64),
        wall_s=time.perf_counter() - started,
    )
