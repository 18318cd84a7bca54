"""Run one scenario and print its metrics: `scripts/simulate SCENARIO.yaml [--strategy S] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .metrics import compute_metrics
from .optimum import offline_optimum_kwh
from .scenario import BASELINES, STRATEGIES, Scenario, ScenarioError, load_scenario
from .sim import Run, simulate


def run_scenario(
    scenario: Scenario, strategy: str | None = None, *, optimum: bool = True, grid_min: float = 5.0
) -> tuple[Run, dict[str, Any]]:
    run = simulate(scenario, strategy)
    best = offline_optimum_kwh(run, grid_min * 60) if optimum else None
    return run, compute_metrics(run, best)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/simulate", description=__doc__)
    parser.add_argument("scenario", help="a scenario YAML file")
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES + BASELINES,
        help="override the file's controller.strategy (or run a baseline)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-optimum", action="store_true", help="skip the offline optimum (optimum_ratio is null)"
    )
    parser.add_argument(
        "--grid-min",
        type=float,
        default=5.0,
        help="time grid of the offline optimum in minutes (default 5)",
    )
    args = parser.parse_args(argv)
    try:
        _, metrics = run_scenario(
            load_scenario(args.scenario),
            args.strategy,
            optimum=not args.no_optimum,
            grid_min=args.grid_min,
        )
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(metrics))
    else:
        width = max(map(len, metrics))
        for key, value in metrics.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
