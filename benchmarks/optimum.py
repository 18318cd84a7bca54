"""The offline optimum: the most energy any controller could deliver, as a linear program.

Perfect knowledge of every arrival, departure, need and building load, on a coarser time grid.
One variable per session and grid interval: the car's current per conductor while it is
there. Constraints: the car's maximum (and the charger's), its energy wanted, and on every
line of every node: the chargers below it may use at most limit - building load on average
over the interval (minus the margin and reserve where the node is metered, as the controller
keeps them there). The minimum current, the taper and the reaction delays are left out, so this
is an upper bound: nothing can beat it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from custom_components.ev_load_balancer.balancing.model import GridType

from .sim import Run
from .site import node_path


def offline_optimum_kwh(run: Run, grid_s: float = 300.0) -> float:
    """Solve the LP for the world of `run` (its sessions and non-EV load)."""
    scenario = run.scenario
    site = scenario.site
    dt = scenario.step_s
    end_s = scenario.steps * dt
    per = max(1, round(grid_s / dt))
    intervals = math.ceil(scenario.steps / per)
    span_s = per * dt
    # Average non-EV load per interval, node and line (the last interval may be shorter).
    idx = np.arange(scenario.steps) // per
    counts = np.bincount(idx, minlength=intervals)[:, None, None]
    nonev = np.zeros((intervals, *run.node_nonev_a.shape[1:]))
    np.add.at(nonev, idx, run.node_nonev_a)
    nonev /= counts
    metered = np.array([node.meter_id is not None for node in run.config.nodes])
    keep = site.margin_a + site.reserve_a
    room = run.node_limit_a[None] - nonev - np.where(metered, keep, 0.0)[None, :, None]
    room = np.clip(room, 0.0, None)

    chargers = {c.id: c for c in scenario.chargers}
    paths = {
        c.id: [run.node_ids.index(n) for n in node_path(run.config, c.group)]
        for c in scenario.chargers
    }
    it = site.grid is GridType.IT
    cost: list[float] = []
    upper: list[float] = []
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    energy_rows: list[float] = []
    node_rows = intervals * len(run.node_ids) * 3
    for sess in run.sessions:
        if sess.charger is None or sess.arrive_s >= end_s:
            continue
        charger = chargers[sess.charger]
        all_conductors = charger.phases == 1 or sess.ev_phases == 3
        lines = charger.wiring if all_conductors else charger.wiring[: 2 if it else 1]
        watts = site.voltage_v
        if charger.phases == 3 and sess.ev_phases == 3:
            watts *= math.sqrt(3) if it else 3.0
        depart = min(sess.depart_s, end_s)
        first, last = int(sess.arrive_s // span_s), min(intervals - 1, int(depart // span_s))
        energy_row = node_rows + len(energy_rows)
        energy_rows.append(sess.energy_kwh)
        for k in range(first, last + 1):
            share = (min(depart, (k + 1) * span_s) - max(sess.arrive_s, k * span_s)) / span_s
            if share <= 0:
                continue
            var = len(cost)
            kwh_per_a = watts * share * span_s / 3.6e6
            cost.append(-kwh_per_a)
            upper.append(min(sess.ev_max_a, charger.max_a))
            rows.append(energy_row)
            cols.append(var)
            vals.append(kwh_per_a)
            for node in paths[charger.id]:
                for line in lines:
                    rows.append((k * len(run.node_ids) + node) * 3 + line)
                    cols.append(var)
                    vals.append(share)
    if not cost:
        return 0.0
    a_ub = coo_array((vals, (rows, cols)), shape=(node_rows + len(energy_rows), len(cost))).tocsr()
    b_ub = np.concatenate([room.reshape(-1), energy_rows])
    used = np.flatnonzero(np.diff(a_ub.indptr))  # drop lines no charger touches
    result = linprog(
        np.asarray(cost),
        A_ub=a_ub[used],
        b_ub=b_ub[used],
        bounds=np.column_stack([np.zeros(len(upper)), upper]),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"the offline optimum could not be solved: {result.message}")
    return float(-result.fun)
