"""`scripts/benchmark-live [--quick] [--out DIR] [--render]`: run the live benchmarks.

Per N, a fresh Home Assistant process: scale figures where N is in --scale, then reaction
steps where N is in --reaction. Writes live.md, live.png and live.json into --out.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
import importlib.metadata
import json
import os
from pathlib import Path
import platform
import signal
import tempfile
import time
from typing import Any

from .hass import commit_of, snapshot_integration
from .report import plot, reaction_figures, render_markdown
from .run import run_session
from .stats import Summary

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "homeassistant": importlib.metadata.version("homeassistant"),
        "ocpp": importlib.metadata.version("ocpp"),
        "pymodbus": importlib.metadata.version("pymodbus"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
    }


def _ns(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def run_all(args: argparse.Namespace, integration: Path | None) -> dict[str, Any]:
    env = environment()
    env["integration"] = (
        f"commit {commit_of(args.commit)}" if integration is not None else "the working tree"
    )
    results: dict[str, Any] = {
        "environment": env,
        "quick": args.quick,
        "reaction": {},
        "scale": {},
        "sessions": [],
        "reaction_samples": {},
    }
    # SIGTERM (and SIGINT, which a background job ignores) end the run cleanly: Home
    # Assistant is stopped and its temporary configuration removed.
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
    for n in sorted(set(args.reaction) | set(args.scale)):
        started = time.monotonic()
        print(f"== {n} charge points", flush=True)
        session = await run_session(
            n,
            scale_window_s=args.window if n in args.scale else 0,
            warmup_s=args.warmup,
            steps=args.steps if n in args.reaction else 0,
            integration=integration,
            keep=args.keep,
        )
        data = asdict(session)
        data["driver_lag_ms"] = Summary.of(session.driver_lag_ms).as_dict()
        results["sessions"].append(data)
        if session.scale is not None:
            results["scale"][str(n)] = session.scale
        if session.steps:
            steps = data["steps"]
            results["reaction"][str(n)] = reaction_figures(steps)
            results["reaction_samples"][str(n)] = [
                s["reaction_ms"] for s in steps if s["reaction_ms"] is not None
            ]
        print(f"   done in {time.monotonic() - started:.0f} s", flush=True)
    return results


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "live.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "live.md").write_text(render_markdown(results) + "\n")
    plot(results, results["reaction_samples"], out / "live.png")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/benchmark-live", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke test of about a minute")
    parser.add_argument("--reaction", type=_ns, help="N for the reaction runs (10,50,200)")
    parser.add_argument("--scale", type=_ns, help="N for the scale runs (50,200,500)")
    parser.add_argument("--steps", type=int, help="meter steps per reaction run (30)")
    parser.add_argument("--window", type=float, help="seconds measured per scale run (60)")
    parser.add_argument("--warmup", type=float, help="seconds before a scale window (20)")
    parser.add_argument("--out", type=Path, help=f"results folder ({RESULTS})")
    parser.add_argument(
        "--commit", default="HEAD", help="the integration's commit to measure (HEAD)"
    )
    parser.add_argument(
        "--working-tree",
        action="store_true",
        help="measure the integration as it is in the checkout, uncommitted edits included",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep Home Assistant's configuration and log"
    )
    parser.add_argument(
        "--render", action="store_true", help="only render live.md and live.png from live.json"
    )
    args = parser.parse_args()
    quick = args.quick
    args.reaction = args.reaction if args.reaction is not None else [5] if quick else [10, 50, 200]
    args.scale = args.scale if args.scale is not None else [10] if quick else [50, 200, 500]
    args.steps = args.steps or (4 if quick else 30)
    args.window = args.window or (10.0 if quick else 60.0)
    args.warmup = args.warmup if args.warmup is not None else (5.0 if quick else 20.0)
    # A smoke test must not overwrite the committed results unless asked to.
    out = args.out or (Path(tempfile.gettempdir()) / "ev-lb-live-quick" if quick else RESULTS)
    if args.render:
        write(json.loads((out / "live.json").read_text()), out)
        return
    with tempfile.TemporaryDirectory(prefix="ev-lb-live-integration-") as snapshot:
        integration = (
            None if args.working_tree else snapshot_integration(Path(snapshot), args.commit)
        )
        results = asyncio.run(run_all(args, integration))
    write(results, out)
    print((out / "live.md").read_text())
    print(f"Written to {out}/live.md, live.png and live.json")


if __name__ == "__main__":
    main()
