"""One benchmark session: start Home Assistant, set up a site with N chargers, connect them,
then measure scale (cycle times, loop lag, CPU, memory) and/or reaction to meter steps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
import random
import time
from typing import Any

import aiohttp

from demo import provision

from .hass import TICKS_PER_S, HomeAssistantProcess, free_port
from .stats import Summary, cpu_percent
from .swarm import DYNAMIC_STACK_LEVEL, BenchMeter, Swarm, measure_loop_lag, start_meter

MARGIN_A = 2.0
MAX_FUSE_A = 4000.0  # the config flow's maximum
SHARE_HIGH_A = 12.0
SHARE_LOW_A = 9.0
QUIET_S = 2.5
"""A step is over when no charger's limit changed for this long after the last one did."""
STEP_TIMEOUT_S = 20.0
POLL_INTERVAL_S = 1.0
"""The integration's Modbus poll interval: steps land at a random moment within it."""
USER, PASSWORD = "bench", "live-benchmark"


def fuse_a(n: int) -> float:
    """Room for every charger at the high share, plus a building load."""
    return min(MAX_FUSE_A, 14.0 * n + 60.0)


def building_a(n: int, share_a: float) -> float:
    """The non-EV load that leaves `share_a` per 3-phase charger (1 A for rounding)."""
    return max(0.0, fuse_a(n) - MARGIN_A - share_a * n - 1.0)


def scale_shares(n: int) -> tuple[float, float]:
    """Two shares the scale run's load swings between: all limits change on each swing.

    At 500 chargers the flow's largest fuse (4000 A) leaves less than the reaction's 12 A.
    """
    high = min(SHARE_HIGH_A, (fuse_a(n) - MARGIN_A - 20.0) // n // 0.5 * 0.5)
    return high, high - 1.0


@dataclass
class Step:
    """One meter step and what the charge points saw of it."""

    direction: str
    """"down" (non-EV load rises, limits fall) or "up"."""
    reaction_ms: float | None
    """Register written to the last limit change received; None if some never changed."""
    first_read_ms: float | None
    """Register written to the meter's next read (the integration polls once a second)."""
    changed: int
    wrong_direction: int


@dataclass
class Session:
    """What one Home Assistant process with N charge points gave."""

    n: int
    provision_s: float = 0.0
    add_charger_ms: list[float] = field(default_factory=list)
    connect_s: float = 0.0
    add_while_running: dict[str, Any] | None = None
    first_charger_limits: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since it connected, limit A) of every dynamic limit CP-0000 received."""
    scale: dict[str, Any] | None = None
    steps: list[Step] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ha_warnings: list[str] = field(default_factory=list)
    driver_lag_ms: list[float] = field(default_factory=list)


async def _probe(base_url: str, token: str, *, reset: bool = False) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(
            f"{base_url}/api/ev_lb_bench_probe", params={"reset": "1"} if reset else {}
        ) as response,
    ):
        response.raise_for_status()
        return dict(await response.json())


async def _until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


def _log(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", flush=True)


async def run_session(
    n: int,
    *,
    scale_window_s: float = 0,
    warmup_s: float = 20,
    steps: int = 0,
    report_interval_s: float = 10.0,
    integration: Path | None = None,
    keep: bool = False,
    log_level: str = "warning",
) -> Session:
    """Measure scale first (a steady site), then reaction to `steps` meter steps."""
    result = Session(n=n)
    ha = (
        HomeAssistantProcess(integration=integration, keep=keep, log_level=log_level)
        if integration is not None
        else HomeAssistantProcess(keep=keep, log_level=log_level)
    )
    meter, gateway = await start_meter([building_a(n, SHARE_HIGH_A)] * 3)
    swarm: Swarm | None = None
    lag_task = asyncio.create_task(measure_loop_lag(result.driver_lag_ms))
    try:
        ha.start()
        await provision.wait_until_up(ha.base_url, timeout_s=180)
        token = await provision.onboard(ha.base_url, USER, PASSWORD)
        ocpp_port = free_port()
        started = time.monotonic()
        site = provision.SiteSpec(
            name="Live benchmark",
            fuse_a=fuse_a(n),
            margin_a=MARGIN_A,
            ocpp_port=ocpp_port,
            unknown_chargers="pending",
            # The meter measures the building only, so each step moves every charger's share
            # by the same amount and nothing depends on when chargers last reported.
            meter=provision.modbus_meter("127.0.0.1", gateway.port, includes_chargers=False),
            # Raises are sent without the settle wait and the hourly budget, so that an up step
            # is answered as fast as a down step (both are the integration's own pace then).
            options={
                "settle_s": 0,
                "meter_timeout_s": 10,
                "rotation_minutes": 240,
                "max_changes_per_hour": 3600,
            },
        )
        entry_id = await provision.create_site(ha.base_url, token, site)
        # The options reload the site; a charger added while it reloads can be lost or get
        # its entities twice (see live.md), so the chargers wait for the reload to end.
        await _until_loaded(ha.base_url, token, entry_id)
        # Every charger is added before it connects (the pending policy stays for strangers).
        for index in range(n):
            added = time.perf_counter()
            await provision.add_charger(
                ha.base_url,
                token,
                entry_id,
                provision.ChargerSpec(name=f"CP {index:04d}", charge_point_id=f"CP-{index:04d}"),
            )
            result.add_charger_ms.append((time.perf_counter() - added) * 1000)
        result.provision_s = time.monotonic() - started
        _log(f"N={n}: site and {n} chargers added in {result.provision_s:.1f} s")

        started = time.monotonic()
        swarm = Swarm(url=f"ws://127.0.0.1:{ocpp_port}/ocpp/", report_interval_s=report_interval_s)
        await swarm.connect_all([f"CP-{index:04d}" for index in range(n)])
        swarm.start_reporting()
        chargers = list(swarm.chargers.values())
        await _until(
            lambda: all(c.dynamic_limit() is not None for c in chargers), 120, "first limits"
        )
        result.connect_s = time.monotonic() - started
        _log(f"N={n}: {len(chargers)} charging with limits after {result.connect_s:.1f} s")

        if scale_window_s:
            # The non-EV load swings every report interval, so cycles also send limits.
            high, low = scale_shares(n)
            swing = asyncio.create_task(
                _swing(meter, building_a(n, high), building_a(n, low), report_interval_s)
            )
            await asyncio.sleep(warmup_s)
            await _probe(ha.base_url, token, reset=True)
            rtt_from = len(swarm.report_rtt_ms)
            errors_from = len(swarm.errors)
            before = ha.sample()
            profiles_from = time.monotonic()
            await asyncio.sleep(scale_window_s)
            after = ha.sample()
            probe = await _probe(ha.base_url, token, reset=True)
            swing.cancel()
            await meter.set_currents([building_a(n, SHARE_HIGH_A)] * 3)
            await asyncio.sleep(QUIET_S * 2)
            result.scale = _scale_figures(
                probe, before.cpu_ticks, after.cpu_ticks, after.at - before.at, after
            ) | {
                "report_rtt_ms": Summary.of(swarm.report_rtt_ms[rtt_from:]).as_dict(),
                "profiles_per_s": swarm.profiles_since(profiles_from) / scale_window_s,
                "errors": len(swarm.errors) - errors_from,
            }
            _log(
                f"N={n}: cycle p50 {result.scale['compute_ms']['p50']:.1f} ms, "
                f"loop lag p99 {result.scale['lag_ms']['p99']:.1f} ms, "
                f"CPU {result.scale['cpu_percent']:.0f} %, RSS {result.scale['rss_mb']:.0f} MB"
            )

        for index in range(steps):
            # Start from the high share (as provisioned): even steps go down, odd ones up.
            down = index % 2 == 0
            # Without this, steps a fixed time apart would hit the same moment of the poll.
            await asyncio.sleep(random.uniform(0, POLL_INTERVAL_S))
            step = await _step(
                meter, chargers, building_a(n, SHARE_LOW_A if down else SHARE_HIGH_A), down
            )
            result.steps.append(step)
            _log(
                f"N={n}: step {index + 1}/{steps} {step.direction}: "
                + (f"{step.reaction_ms:.0f} ms" if step.reaction_ms is not None else "incomplete")
                + f", {step.changed}/{n} changed"
            )
        if steps:
            result.add_while_running = await _add_while_running(
                ha.base_url, token, entry_id, chargers
            )
            _log(f"N={n}: one charger added while running: {result.add_while_running}")
        result.errors = list(swarm.errors)
        if chargers:
            first = chargers[0].seen
            result.first_charger_limits = [
                (round(p.at - first[0].at, 3), p.limit)
                for p in first
                if p.stack_level == DYNAMIC_STACK_LEVEL
            ]
        return result
    finally:
        lag_task.cancel()
        if swarm is not None:
            await swarm.close()
        result.ha_warnings = ha.warnings()
        ha.stop()
        if keep:
            _log(f"N={n}: Home Assistant's configuration and log kept in {ha.config_dir}")
        await gateway.server.shutdown()


async def _until_loaded(base_url: str, token: str, entry_id: str) -> None:
    await asyncio.sleep(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        entries = await provision.site_entries(base_url, token)
        if any(e["entry_id"] == entry_id and e["state"] == "loaded" for e in entries):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the site did not load")


async def _swing(meter: BenchMeter, high_a: float, low_a: float, period_s: float) -> None:
    building = high_a
    while True:
        await asyncio.sleep(period_s)
        building = low_a if building == high_a else high_a
        await meter.set_currents([building] * 3)


async def _add_while_running(
    base_url: str, token: str, entry_id: str, chargers: list[Any]
) -> dict[str, Any]:
    """Add one more charger (not connected) and see what the running ones are sent."""
    started = time.monotonic()
    await provision.add_charger(
        base_url,
        token,
        entry_id,
        provision.ChargerSpec(name="CP added", charge_point_id="CP-ADDED"),
    )
    await asyncio.sleep(5)
    lowest: dict[str, float] = {}
    for charger in chargers:
        limits = [p.limit for p in charger.seen if p.at >= started and p.stack_level]
        if limits:
            lowest[charger.id] = min(limits)
    return {
        "chargers": len(chargers),
        "sent_a_new_limit": len(lowest),
        "lowest_limit_a": min(lowest.values(), default=None),
    }


async def _step(meter: BenchMeter, chargers: list[Any], building: float, down: bool) -> Step:
    """Write the new building load; wait until every limit changed and things went quiet."""
    written = time.monotonic()
    await meter.set_currents([building] * 3)
    written = (written + time.monotonic()) / 2
    before = {c.id: c.dynamic_limit() for c in chargers}

    def changes() -> dict[str, tuple[float, float]]:
        """Per charger: the time and value of its last limit change after the write."""
        last: dict[str, tuple[float, float]] = {}
        for charger in chargers:
            held = before[charger.id]
            for profile in charger.seen:
                if profile.at < written or profile.stack_level != DYNAMIC_STACK_LEVEL:
                    continue
                if profile.limit != held:
                    last[charger.id] = (profile.at, profile.limit)
                held = profile.limit
        return last

    deadline = written + STEP_TIMEOUT_S
    while True:
        await asyncio.sleep(0.1)
        last = changes()
        now = time.monotonic()
        latest = max((at for at, _ in last.values()), default=written)
        if (len(last) == len(chargers) and now - latest >= QUIET_S) or now > deadline:
            break
    reads = meter.reads_after(written)
    wrong = sum(
        1
        for cp_id, (_, value) in last.items()
        if (before[cp_id] is not None and (value > before[cp_id]) == down)
    )
    complete = len(last) == len(chargers)
    return Step(
        direction="down" if down else "up",
        reaction_ms=(max(at for at, _ in last.values()) - written) * 1000 if complete else None,
        first_read_ms=(reads[0] - written) * 1000 if reads else None,
        changed=len(last),
        wrong_direction=wrong,
    )


def _scale_figures(
    probe: dict[str, Any], ticks_before: int, ticks_after: int, wall_s: float, after: Any
) -> dict[str, Any]:
    cycles = probe["cycles"]

    def of(key: str) -> dict[str, Any]:
        return Summary.of([c[key] for c in cycles if c.get(key) is not None]).as_dict()

    return {
        "window_s": probe["window_s"],
        "cycles": len(cycles),
        "cycles_per_s": len(cycles) / probe["window_s"] if probe["window_s"] else None,
        "compute_ms": of("compute_ms"),
        "listeners_ms": of("listeners_ms"),
        # Most cycles change nothing and send nothing; these are the ones that did.
        "sending_ms": Summary.of(
            [c["send_ms"] for c in cycles if c["senders"] and c.get("send_ms") is not None]
        ).as_dict(),
        "sending_cycles": sum(1 for c in cycles if c["senders"]),
        "trigger_ms": of("trigger_ms"),
        "senders": of("senders"),
        "lag_ms": Summary.of(probe["lag_ms"]).as_dict(),
        "cpu_percent": cpu_percent(ticks_before, ticks_after, wall_s, TICKS_PER_S),
        "rss_mb": after.rss_mb,
        "peak_rss_mb": after.peak_rss_mb,
    }
