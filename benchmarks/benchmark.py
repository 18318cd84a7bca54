"""Run every scenario with every strategy and baseline; write the table and the plots.

`scripts/benchmark [--scenarios DIR] [--out DIR] [--jobs N]` writes `README.md` (the table)
and one PNG per scenario into the results folder, `results.json` next to them (every metric
of every run), and prints the engine's cycle times for 50 and 500 chargers.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
import json
from pathlib import Path
import sys
from typing import Any

# A bare Figure renders with the Agg canvas: no display, no pyplot state shared between runs.
from matplotlib.figure import Figure
import numpy as np
import yaml

from .scenario import BASELINES, STRATEGIES, Scenario, ScenarioError, load_scenario, parse_scenario
from .simulate import run_scenario

HERE = Path(__file__).parent
RUNS = (*STRATEGIES, *BASELINES)
LINE_COLOURS = ("tab:brown", "black", "tab:grey")


@dataclass(frozen=True, kw_only=True)
class PlotData:
    """A run reduced to one value per minute, small enough to pass between processes."""

    start_tod_s: int
    site_max_a: np.ndarray
    """(minutes, phases): the highest site current on each line within each minute."""
    fuse_a: tuple[float, ...]
    keep_a: float
    """Margin plus reserve: the controller aims below fuse - keep."""
    offered_a: np.ndarray
    """(minutes, chargers): mean offer while a car is there, NaN otherwise."""
    charger_ids: tuple[str, ...]
    max_a: float
    """The largest charger maximum: the top of the colour scale."""


def _per_minute(values: np.ndarray, per: int, how: str) -> np.ndarray:
    minutes = values.shape[0] // per
    blocks = values[: minutes * per].reshape(minutes, per, *values.shape[1:])
    if how == "max":
        return blocks.max(axis=1)
    present = ~np.isnan(blocks)
    counts = present.sum(axis=1)
    sums = np.where(present, blocks, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def run_one(path: Path, strategy: str) -> tuple[dict[str, Any], PlotData]:
    scenario = load_scenario(path)
    run, metrics = run_scenario(scenario, strategy)
    per = max(1, round(60 / scenario.step_s))
    phases = scenario.site.phases
    plot = PlotData(
        start_tod_s=scenario.start_tod_s,
        site_max_a=_per_minute(run.node_current_a[:, 0, :phases], per, "max"),
        fuse_a=scenario.site.fuse_a[:phases],
        keep_a=scenario.site.margin_a + scenario.site.reserve_a,
        offered_a=_per_minute(run.offered_a.astype(np.float64), per, "mean"),
        charger_ids=tuple(c.id for c in scenario.chargers),
        max_a=max((c.max_a for c in scenario.chargers), default=1.0),
    )
    return metrics, plot


def synthetic_scenario(chargers: int, hours: float = 2.0) -> Scenario:
    """A large garage for timing the engine: `chargers` chargers in garages of 50."""
    garages = max(1, chargers // 50)
    data = {
        "name": f"synthetic-{chargers}",
        "duration_h": hours,
        "start": "17:00",
        "seed": 1,
        "site": {"fuse_a": 63 * garages, "margin_a": 3},
        "meter": {"interval_s": 1, "delay_s": 0.5},
        "groups": [{"id": f"g{g}", "limit_a": 63} for g in range(garages)],
        "chargers": [
            {"generate": {"count": chargers // garages, "prefix": f"g{g}-", "group": f"g{g}"}}
            for g in range(garages)
        ],
        "building_load": {
            "profile": "residential",
            "peak_a": 20 * garages,
            "spikes": {"per_hour": 10, "amps": [5, 20], "minutes": [1, 10]},
        },
        "sessions": [
            {
                "generate": {
                    "count": int(chargers * 0.9),
                    "arrive": ["16:30", "18:00"],
                    "depart": ["06:00", "08:00"],
                    "energy_kwh": [5, 30],
                    "ev_phases": {3: 0.7, 1: 0.3},
                    "ev_max_a": [16, 32],
                }
            }
        ],
    }
    return parse_scenario(yaml.safe_dump(data))


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _row(m: dict[str, Any]) -> str:
    return (
        f"| {m['scenario']} | {m['strategy']} | "
        f"{_fmt(m['energy_delivered_kwh'])} ({_fmt(m['energy_requested_kwh'])}) | "
        f"{m['sessions_satisfied']}/{m['sessions_total']} | "
        f"{_fmt(m['overload_amp_seconds'])} | {_fmt(m['overload_avoidable_amp_seconds'])} | "
        f"{_fmt(m['overload_max_a'])} | {_fmt(m['overload_longest_s'], 0)} | "
        f"{_fmt(m['failsafe_seconds'], 0)} | {_fmt(m['peak_15min_kw'])} | "
        f"{_fmt(m['fairness_jain'], 3)} | {_fmt(m['limit_changes_per_charger_hour'], 2)} | "
        f"{_fmt(m['optimum_ratio'], 3)} | "
        f"{_fmt(m['cycle_us_p50'], 0)} / {_fmt(m['cycle_us_p99'], 0)} |"
    )


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| scenario | strategy | energy kWh (of requested) | satisfied | overload A·s | "
        "avoidable A·s | max A | longest s | failsafe s | peak 15 min kW | Jain | "
        "changes /charger·h | optimum ratio | cycle µs p50 / p99 |"
    )
    rule = "|" + "---|" * (head.count("|") - 1)
    rows = [_row(m) for m in results]
    return "\n".join([head, rule, *rows])


def _clock_ticks(ax: Any, minutes: int, start_tod_s: int) -> None:
    """Label the x axis (minutes from the start) with the wall clock every three hours."""
    first = (-(start_tod_s // 60)) % 180
    ticks = np.arange(first, minutes + 1, 180)
    ax.set_xticks(ticks)
    ax.set_xticklabels(
        [f"{int((start_tod_s // 60 + t) // 60 % 24):02d}:00" for t in ticks], fontsize=8
    )


def plot_scenario(name: str, plots: dict[str, PlotData], out: Path) -> None:
    """One row per strategy: site current per line against the fuse, and each charger's offer."""
    fig = Figure(figsize=(15, 3.0 * len(plots)), layout="constrained")
    axes = fig.subplots(len(plots), 2, squeeze=False, width_ratios=(1, 1))
    top = max(max(p.fuse_a) for p in plots.values()) * 1.25
    for row, (strategy, p) in enumerate(plots.items()):
        left, right = axes[row]
        minutes = p.site_max_a.shape[0]
        for k in range(p.site_max_a.shape[1]):
            left.plot(p.site_max_a[:, k], lw=0.7, color=LINE_COLOURS[k], label=f"L{k + 1}")
        left.axhline(max(p.fuse_a), color="red", lw=1.0, label="fuse")
        left.axhline(max(p.fuse_a) - p.keep_a, color="red", lw=0.8, ls="--", label="fuse - margin")
        left.set_ylim(0, max(top, float(np.nanmax(p.site_max_a)) * 1.05))
        left.set_xlim(0, minutes)
        left.set_ylabel(f"{strategy}\nsite A, max per minute", fontsize=9)
        _clock_ticks(left, minutes, p.start_tod_s)
        left.legend(loc="upper right", fontsize=7, ncols=5)
        image = right.imshow(
            p.offered_a.T,
            aspect="auto",
            interpolation="nearest",
            cmap="viridis",
            vmin=0,
            vmax=p.max_a,
            extent=(0, minutes, len(p.charger_ids) - 0.5, -0.5),
        )
        right.set_facecolor("#eeeeee")  # no car: no offer
        right.set_ylabel("charger", fontsize=9)
        step = max(1, len(p.charger_ids) // 10)
        right.set_yticks(range(0, len(p.charger_ids), step))
        right.set_yticklabels(p.charger_ids[::step], fontsize=7)
        _clock_ticks(right, minutes, p.start_tod_s)
        fig.colorbar(image, ax=right, label="offered A", pad=0.01)
    axes[0][0].set_title(f"{name}: site current per line (highest per minute)", fontsize=10)
    axes[0][1].set_title(f"{name}: offered current per charger while a car is there", fontsize=10)
    fig.savefig(out / f"{name}.png", dpi=80)


def timing(chargers: int) -> dict[str, Any]:
    _, metrics = run_scenario(synthetic_scenario(chargers), "equal_share", optimum=False)
    return metrics


README_HEAD = """# Benchmark results

Written by `scripts/benchmark`: every scenario in `benchmarks/scenarios/` with the engine's
strategies (`equal_share`, `first_come`, the same `Controller` that runs in Home Assistant) and
the baselines (`static`: fuse / chargers, fixed; `worst_phase_fcfs`: one budget from the worst
line, first come first served). See `BENCHMARK.md` for the metrics.

- **energy**: delivered (requested) kWh; **satisfied**: sessions that got 99% of their need.
- **overload**: amp-seconds above a node's limit, all nodes and lines; **avoidable**: without
  the moments non-EV load alone is over the limit and the window after each rise of load no
  controller commands (non-EV load, or a charger drawing above the limit it was sent):
  slowest charger reaction + meter interval + meter delay + 2 s.
- **optimum ratio**: delivered / the offline optimum (a linear program with perfect knowledge
  on a 5-minute grid, solved with HiGHS); an upper bound, nothing can reach 1 exactly.
- **cycle µs**: the cost of one `step` call on this machine.
- Plots, one row per strategy: left, the site's current per line (highest per minute) against
  the fuse and fuse - margin; right, what each charger offers while a car is plugged in.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/benchmark", description=__doc__)
    parser.add_argument("--scenarios", type=Path, default=HERE / "scenarios")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs in parallel (cycle times are most reliable with 1)",
    )
    args = parser.parse_args(argv)
    paths = sorted(args.scenarios.glob("*.yaml"))
    try:
        names = [load_scenario(p).name for p in paths]
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(p, s) for p in paths for s in RUNS]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(run_one, *zip(*jobs, strict=True)))
    results = [metrics for metrics, _ in done]
    for name, path in zip(names, paths, strict=True):
        plot_scenario(
            name, {s: p for (q, s), (_, p) in zip(jobs, done, strict=True) if q == path}, args.out
        )
        print(f"{name}: done", file=sys.stderr)
    cycles = {n: timing(n) for n in (50, 500)}
    cycle_line = "engine cycle (equal_share, synthetic garages, 2 h): " + "; ".join(
        f"{n} chargers p50 {m['cycle_us_p50']:.0f} µs, p99 {m['cycle_us_p99']:.0f} µs"
        for n, m in cycles.items()
    )
    plots = "\n".join(f"![{n}]({n}.png)" for n in names)
    parallel = f"Runs: {args.jobs} at a time" + (
        ", which makes cycle times noisier" if args.jobs > 1 else ""
    )
    (args.out / "README.md").write_text(
        f"{README_HEAD}\n{table(results)}\n\n{parallel}.\n\n{cycle_line}.\n\n## Plots\n\n{plots}\n",
        encoding="utf-8",
    )
    (args.out / "results.json").write_text(
        json.dumps({"runs": results, "cycle": cycles}, indent=1), encoding="utf-8"
    )
    print(table(results))
    print(cycle_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
