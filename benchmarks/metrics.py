"""The figures of BENCHMARK.md section 3, computed from a finished run."""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import Any

import numpy as np

from .sim import Run

SATISFIED_SHARE = 0.99
RISE_A = 0.5
"""A rise of non-EV load: at least this much more on a line from one step to the next. The
slow drift of a load profile is not a rise; following it is the controller's job."""
RISE_GRACE_S = 2.0
QUARTER_S = 900
EXCESS_EPS_A = 1e-6


def jain(values: Sequence[float]) -> float:
    """Jain's fairness index: 1 when all are equal, 1/n when one gets everything."""
    x = np.asarray(values, dtype=float)
    square_sum = float((x * x).sum())
    if x.size == 0 or square_sum == 0.0:
        return 1.0
    return float(x.sum() ** 2 / (x.size * square_sum))


def longest_run(mask: np.ndarray) -> int:
    """The longest stretch of consecutive True along axis 0, over all columns."""
    flat = mask.reshape(mask.shape[0], -1)
    best = 0
    for column in flat.T:
        edges = np.diff(np.concatenate(([0], column.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        if starts.size:
            best = max(best, int((ends - starts).max()))
    return best


def avoidable_mask(nonev: np.ndarray, limit: np.ndarray, window_steps: int) -> np.ndarray:
    """Where an excess counts as the controller's fault: not while non-EV load alone is above the
    limit, nor within `window_steps` from a rise of non-EV load on that node and line."""
    rise = np.zeros(nonev.shape, dtype=np.int32)
    rise[1:] = np.diff(nonev, axis=0) >= RISE_A
    recent = np.cumsum(rise, axis=0)
    recent[window_steps:] -= recent[:-window_steps].copy()
    return (recent == 0) & (nonev <= limit[None])


def peak_quarter_kw(power_kw: np.ndarray, start_tod_s: int, step_s: float) -> float:
    """The highest average over wall-clock quarter hours (full ones, if there are any)."""
    quarter = ((start_tod_s + np.arange(power_kw.size) * step_s) // QUARTER_S).astype(int)
    quarter -= quarter[0]
    sums = np.bincount(quarter, weights=power_kw)
    counts = np.bincount(quarter)
    full = counts >= round(QUARTER_S / step_s)
    means = sums / np.maximum(counts, 1)
    return float(means[full].max() if full.any() else means.max())


def compute_metrics(run: Run, optimum_kwh: float | None) -> dict[str, Any]:
    scenario = run.scenario
    dt = scenario.step_s
    lines = scenario.site.phases
    current = run.node_current_a[:, :, :lines]
    nonev = run.node_nonev_a[:, :, :lines]
    limit = run.node_limit_a[:, :lines]
    excess = np.clip(current - limit[None], 0.0, None)
    window_s = (
        max((c.reaction_s for c in scenario.chargers), default=0.0)
        + scenario.meter.interval_s
        + scenario.meter.delay_s
        + RISE_GRACE_S
    )
    # What no controller commands (non-EV load, and a charger's draw above the limit it was
    # sent) opens a reaction window when it rises, as non-EV load does.
    uncontrolled = (
        nonev if run.node_uncontrolled_a is None else run.node_uncontrolled_a[:, :, :lines]
    )
    avoidable = avoidable_mask(uncontrolled, limit, max(1, math.ceil(window_s / dt)))

    counted = [
        (s, float(got))
        for s, got in zip(run.sessions, run.delivered_kwh, strict=True)
        if s.arrive_s < scenario.steps * dt
    ]
    requested = sum(s.energy_kwh for s, _ in counted)
    delivered = sum(got for _, got in counted)
    satisfied = [got >= SATISFIED_SHARE * s.energy_kwh for s, got in counted]
    by_priority: dict[int, list[int]] = {}
    for (s, _), ok in zip(counted, satisfied, strict=True):
        by_priority.setdefault(s.priority, []).append(int(ok))
    shares: dict[int, list[float]] = {}
    for s, got in counted:
        if s.energy_kwh > 0:
            shares.setdefault(s.priority, []).append(min(1.0, got / s.energy_kwh))
    fairness = {p: jain(x) for p, x in shares.items()}
    total_shares = sum(len(x) for x in shares.values())
    cycle_us = run.cycle_ns / 1000.0
    hours = scenario.steps * dt / 3600.0

    return {
        "scenario": scenario.name,
        "strategy": run.strategy,
        "energy_requested_kwh": round(requested, 3),
        "energy_delivered_kwh": round(delivered, 3),
        "energy_ratio": round(delivered / requested, 4) if requested else 1.0,
        "sessions_total": len(counted),
        "sessions_satisfied": sum(satisfied),
        "satisfied_ratio": round(sum(satisfied) / len(counted), 4) if counted else 1.0,
        "satisfied_ratio_by_priority": {
            str(p): round(sum(v) / len(v), 4) for p, v in sorted(by_priority.items(), reverse=True)
        },
        "overload_amp_seconds": round(float(excess.sum()) * dt, 3),
        "overload_avoidable_amp_seconds": round(float(excess[avoidable].sum()) * dt, 3),
        "overload_max_a": round(float(excess.max(initial=0.0)), 3),
        "overload_longest_s": longest_run(excess > EXCESS_EPS_A) * dt,
        "failsafe_seconds": run.failsafe_s,
        "peak_15min_kw": round(peak_quarter_kw(run.site_power_kw, scenario.start_tod_s, dt), 3),
        "fairness_jain": round(sum(fairness[p] * len(shares[p]) for p in shares) / total_shares, 4)
        if total_shares
        else 1.0,
        "fairness_jain_by_priority": {
            str(p): round(v, 4) for p, v in sorted(fairness.items(), reverse=True)
        },
        "limit_changes_per_charger_hour": round(
            run.limit_changes / max(1, len(scenario.chargers)) / hours, 3
        ),
        "optimum_kwh": None if optimum_kwh is None else round(optimum_kwh, 3),
        "optimum_ratio": round(delivered / optimum_kwh, 4) if optimum_kwh else None,
        "wall_s": round(run.wall_s, 3),
        "cycles": int(run.cycle_ns.size),
        "cycle_us_p50": round(float(np.percentile(cycle_us, 50)), 1) if cycle_us.size else 0.0,
        "cycle_us_p99": round(float(np.percentile(cycle_us, 99)), 1) if cycle_us.size else 0.0,
    }
