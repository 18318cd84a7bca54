"""The simulated world drawn from a scenario: building load over time and the EV sessions.

Everything random comes from generators seeded with (scenario seed, purpose), so that changing
one part of a scenario (say, the spikes) does not reshuffle another (the sessions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custom_components.ev_load_balancer.balancing.model import SITE_NODE_ID, GridType

from .scenario import DAY_S, LoadSpec, Scenario, ScenarioError, SpikeSpec

_SEED_LOAD = 1
_SEED_SESSIONS = 2
SEED_REPORTS = 3

# Share of the per-phase peak, hour by hour from midnight (linearly interpolated in between).
PROFILE_SHAPES: dict[str, tuple[float, ...]] = {
    # Flats and houses: low at night, a breakfast bump, the evening peak (cooking, washing).
    "residential": (
        0.30,
        0.25,
        0.22,
        0.22,
        0.22,
        0.25,
        0.40,
        0.60,
        0.55,
        0.40,
        0.35,
        0.35,
        0.40,
        0.35,
        0.33,
        0.35,
        0.50,
        0.80,
        1.00,
        0.95,
        0.85,
        0.70,
        0.55,
        0.40,
    ),
    # Offices: base load at night, a plateau in working hours.
    "office": (
        0.20,
        0.20,
        0.20,
        0.20,
        0.20,
        0.25,
        0.40,
        0.75,
        0.95,
        1.00,
        1.00,
        1.00,
        0.95,
        1.00,
        1.00,
        0.95,
        0.85,
        0.60,
        0.35,
        0.25,
        0.22,
        0.20,
        0.20,
        0.20,
    ),
    # A fleet depot: workshop and washing by day, lighting and heating at night.
    "depot": (
        0.45,
        0.45,
        0.45,
        0.45,
        0.50,
        0.65,
        0.85,
        0.95,
        1.00,
        1.00,
        0.95,
        0.90,
        0.85,
        0.90,
        0.95,
        0.90,
        0.80,
        0.65,
        0.55,
        0.50,
        0.50,
        0.45,
        0.45,
        0.45,
    ),
}


@dataclass(frozen=True, kw_only=True)
class Session:
    """One car's visit, in simulation seconds."""

    charger: str | None
    """None: no charger was free when the car came (it counts as not satisfied)."""
    arrive_s: float
    depart_s: float
    energy_kwh: float
    ev_phases: int
    ev_max_a: float
    priority: int


def sim_times(scenario: Scenario) -> np.ndarray:
    return np.arange(scenario.steps, dtype=np.float64) * scenario.step_s


def _profile(spec: LoadSpec, scenario: Scenario, t: np.ndarray) -> np.ndarray:
    if spec.csv is not None:
        try:
            table = np.loadtxt(spec.csv, delimiter=",", skiprows=1, ndmin=2)
        except ValueError as err:
            raise ScenarioError(
                f"{spec.csv}: expected numeric columns t_s,l1_a,l2_a,l3_a: {err}"
            ) from err
        if table.shape[1] != 4 or table.shape[0] < 1 or np.any(np.diff(table[:, 0]) <= 0):
            raise ScenarioError(
                f"{spec.csv}: expected 4 columns t_s,l1_a,l2_a,l3_a with t_s (seconds from the "
                "start) increasing"
            )
        return np.stack([np.interp(t, table[:, 0], table[:, k]) for k in (1, 2, 3)], axis=1)
    hourly = PROFILE_SHAPES[spec.profile or "residential"]
    shape = np.asarray((*hourly, hourly[0]))  # midnight again, to wrap around
    hours = ((scenario.start_tod_s + t) % DAY_S) / 3600.0
    frac = np.interp(hours, np.arange(25.0), shape)
    return frac[:, None] * np.asarray(spec.peak_a)[None, :]


def _add_spikes(
    load: np.ndarray, spec: LoadSpec, scenario: Scenario, rng: np.random.Generator
) -> None:
    """Switch appliances on and off: each spike is a rectangle of current on one line (a line
    pair on IT) or on every line, added in place."""
    for spikes in spec.spikes:
        _add_spike_kind(load, spikes, scenario, rng)


def _add_spike_kind(
    load: np.ndarray, spikes: SpikeSpec, scenario: Scenario, rng: np.random.Generator
) -> None:
    n = load.shape[0]
    count = int(rng.poisson(spikes.per_hour * scenario.duration_h))
    starts = rng.integers(0, n, count)
    lengths = np.maximum(
        1, np.round(rng.uniform(*spikes.minutes, count) * 60 / scenario.step_s)
    ).astype(int)
    amps = rng.uniform(*spikes.amps, count)
    every_line = rng.random(count) < spikes.three_phase_share
    first = rng.integers(0, 3, count)
    delta = np.zeros((n + 1, 3))
    for start, length, a, all_lines, line in zip(
        starts, lengths, amps, every_line, first, strict=True
    ):
        if scenario.site.phases == 1:
            lines: tuple[int, ...] = (0,)
        elif all_lines:
            lines = (0, 1, 2)
        elif scenario.site.grid is GridType.IT:
            lines = (int(line), (int(line) + 1) % 3)
        else:
            lines = (int(line),)
        for k in lines:
            delta[start, k] += a
            delta[min(n, start + length), k] -= a
    load += np.cumsum(delta[:-1], axis=0)


def node_loads(scenario: Scenario) -> dict[str, np.ndarray]:
    """Non-EV load each node carries itself (not counting its sub-groups): amperes, (steps, 3)."""
    t = sim_times(scenario)
    rng = np.random.default_rng([scenario.seed, _SEED_LOAD])
    specs: dict[str, LoadSpec] = {SITE_NODE_ID: scenario.building_load}
    specs |= {g.id: g.load for g in scenario.groups if g.load is not None}
    loads: dict[str, np.ndarray] = {}
    for node, spec in specs.items():
        load = _profile(spec, scenario, t)
        _add_spikes(load, spec, scenario, rng)
        loads[node] = load
    for step in scenario.load_steps:
        begin = int(np.ceil(scenario.sim_time(step.window.at_tod_s) / scenario.step_s))
        end = scenario.steps
        if step.window.minutes is not None:
            end = min(end, begin + round(step.window.minutes * 60 / scenario.step_s))
        loads.setdefault(step.node, np.zeros((scenario.steps, 3)))[begin:end] += step.amps
    if scenario.site.phases == 1:
        for load in loads.values():
            load[:, 1:] = 0.0
    return loads


def _stay_s(arrive_tod: int, depart_tod: int) -> float:
    """How long a car stays: until the next time the clock shows its departure."""
    return float((depart_tod - arrive_tod) % DAY_S or DAY_S)


def _draw_tod(span: tuple[int, int], rng: np.random.Generator) -> int:
    """A time of day between span[0] and span[1], whole seconds (the span may cross midnight)."""
    return int(span[0] + rng.uniform(0, (span[1] - span[0]) % DAY_S)) % DAY_S


def expand_sessions(scenario: Scenario) -> tuple[Session, ...]:
    """The explicit sessions, then the generated ones, each on a charger that is free."""
    priority = {c.id: c.priority for c in scenario.chargers}
    busy: dict[str, list[tuple[float, float]]] = {c.id: [] for c in scenario.chargers}
    sessions: list[Session] = []
    for i, spec in enumerate(scenario.sessions):
        arrive = scenario.sim_time(spec.arrive_tod_s)
        depart = arrive + _stay_s(spec.arrive_tod_s, spec.depart_tod_s)
        if any(a < depart and arrive < d for a, d in busy[spec.charger]):
            raise ScenarioError(
                f"{scenario.source or '<scenario>'}: sessions[{i}]: overlaps another session on "
                f"charger {spec.charger!r}; expected one car at a time per charger"
            )
        busy[spec.charger].append((arrive, depart))
        sessions.append(
            Session(
                charger=spec.charger,
                arrive_s=arrive,
                depart_s=depart,
                energy_kwh=spec.energy_kwh,
                ev_phases=spec.ev_phases,
                ev_max_a=spec.ev_max_a,
                priority=priority[spec.charger],
            )
        )

    rng = np.random.default_rng([scenario.seed, _SEED_SESSIONS])
    drawn: list[tuple[float, float, float, int, float, str]] = []
    for gen in scenario.session_gens:
        phases = np.asarray([p for p, _ in gen.ev_phases])
        weights = np.asarray([w for _, w in gen.ev_phases])
        for _ in range(gen.count):
            arrive_tod = _draw_tod(gen.arrive, rng)
            if gen.depart is not None:
                stay_s = _stay_s(arrive_tod, _draw_tod(gen.depart, rng))
            else:  # the parser sets exactly one of depart and stay_h
                stay_s = float(rng.uniform(*gen.stay_h)) * 3600  # type: ignore[misc]
            arrive = scenario.sim_time(arrive_tod)
            drawn.append(
                (
                    arrive,
                    arrive + stay_s,
                    round(float(rng.uniform(*gen.energy_kwh)), 1),
                    int(rng.choice(phases, p=weights / weights.sum())),
                    float(round(rng.uniform(*gen.ev_max_a))),
                    gen.charger_prefix,
                )
            )
    # A car takes a charger free for its whole stay, picked at random among those.
    for arrive, depart, energy, ev_phases, ev_max, prefix in sorted(drawn, key=lambda d: d[0]):
        candidates = [c.id for c in scenario.chargers if c.id.startswith(prefix)]
        free = [c for c in candidates if not any(a < depart and arrive < d for a, d in busy[c])]
        charger = str(free[int(rng.integers(len(free)))]) if free else None
        if charger is not None:
            busy[charger].append((arrive, depart))
        sessions.append(
            Session(
                charger=charger,
                arrive_s=arrive,
                depart_s=depart,
                energy_kwh=energy,
                ev_phases=ev_phases,
                ev_max_a=ev_max,
                priority=priority[charger] if charger else min(priority[c] for c in candidates),
            )
        )
    return tuple(sessions)
