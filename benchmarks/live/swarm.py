"""The benchmark's side of the wire: OCPP 1.6 charge points and a Modbus meter on loopback.

Built on the demo's simulated devices; the subclasses only add time stamps: when each
SetChargingProfile arrived, when the meter was read, how long each MeterValues took to be
answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import time
from typing import Any

from ocpp.routing import on
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from custom_components.ev_load_balancer.meters import REGISTER_MAPS, MeterModel, PhaseReading
from demo.chargepoint import Car, SimCharger16, run
from demo.meter import MeterGateway, SimMeter, start_gateway

# The stack level of the integration's dynamic limit (the failsafe base profile is level 0).
DYNAMIC_STACK_LEVEL = 1


@dataclass(frozen=True)
class ProfileSeen:
    """A SetChargingProfile as the charge point received it."""

    at: float
    limit: float
    stack_level: int
    purpose: str


class BenchCharger(SimCharger16):
    """A simulated OCPP 1.6 charge point that time-stamps every profile it receives."""

    def __init__(self, cp_id: str, connection: ClientConnection, **kwargs: Any) -> None:
        super().__init__(cp_id, connection, **kwargs)
        self.seen: list[ProfileSeen] = []
        self.base_profile = asyncio.Event()
        """Set once the failsafe base profile (stack level 0) arrived: set up and accepted."""

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: Any, **kwargs: Any
    ) -> Any:
        at = time.monotonic()
        answer = super().on_set_charging_profile(connector_id, cs_charging_profiles, **kwargs)
        period = cs_charging_profiles["charging_schedule"]["charging_schedule_period"][0]
        self.seen.append(
            ProfileSeen(
                at=at,
                limit=float(period["limit"]),
                stack_level=int(cs_charging_profiles["stack_level"]),
                purpose=str(cs_charging_profiles["charging_profile_purpose"]),
            )
        )
        if self.seen[-1].stack_level == 0:
            self.base_profile.set()
        return answer

    def dynamic_limit(self, before: float | None = None) -> float | None:
        """The last dynamic limit received (before a moment, if given)."""
        for profile in reversed(self.seen):
            if profile.stack_level == DYNAMIC_STACK_LEVEL and (
                before is None or profile.at < before
            ):
                return profile.limit
        return None


class BenchMeter(SimMeter):
    """The demo's SDM630 on Modbus TCP, remembering when it was read."""

    # SimMeter counts reads with `reads += 1` in the server's callback: the setter notes when.
    @property  # type: ignore[override]
    def reads(self) -> int:
        return self.__dict__.get("_reads", 0)

    @reads.setter
    def reads(self, value: int) -> None:
        self.__dict__["_reads"] = value
        if value:
            self.__dict__.setdefault("read_times", []).append(time.monotonic())

    def reads_after(self, moment: float) -> list[float]:
        return [at for at in self.__dict__.get("read_times", []) if at >= moment]

    async def set_currents(self, amps: Sequence[float]) -> None:
        await self.write_reading(
            # The config flow checks the voltages to tell a wrong model or unit id.
            PhaseReading(
                current_a=(amps[0], amps[1], amps[2]),
                voltage_v=(230.0, 230.0, 230.0),
                timestamp=0.0,
            )
        )


async def start_meter(amps: Sequence[float]) -> tuple[BenchMeter, MeterGateway]:
    meter = BenchMeter(unit_id=1, register_map=REGISTER_MAPS[MeterModel.EASTRON_SDM630])
    gateway = await start_gateway([meter])
    await meter.set_currents(amps)
    return meter, gateway


@dataclass
class Swarm:
    """N charge points with a car each, charging, reporting meter values every interval."""

    url: str
    """ws://host:port/ocpp/ (the charge point id is appended)."""
    report_interval_s: float = 10.0
    chargers: dict[str, BenchCharger] = field(default_factory=dict)
    report_rtt_ms: list[float] = field(default_factory=list)
    """How long each MeterValues waited for its answer."""
    errors: list[str] = field(default_factory=list)
    _connections: list[ClientConnection] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def connect_all(self, cp_ids: Sequence[str], concurrency: int = 25) -> None:
        """Connect, boot and start a session on each; a few at a time, as a site powering up."""
        gate = asyncio.Semaphore(concurrency)

        async def one(cp_id: str) -> None:
            async with gate:
                await self._plug_in(cp_id)

        results = await asyncio.gather(*(one(cp_id) for cp_id in cp_ids), return_exceptions=True)
        for cp_id, result in zip(cp_ids, results, strict=True):
            if isinstance(result, BaseException):
                self.errors.append(f"{cp_id} did not start: {result!r}")

    async def _plug_in(self, cp_id: str) -> None:
        ws = await connect(self.url + cp_id, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=60)
        self._connections.append(ws)
        charger = BenchCharger(cp_id, ws, car=Car(phases=3, max_a=32))
        self._tasks.append(asyncio.create_task(run(charger)))
        await charger.boot()
        async with asyncio.timeout(120):
            await charger.base_profile.wait()
        charger.sim.now = datetime.now(UTC)
        await charger.status(1, "Preparing")
        await charger.start_transaction(1)
        await charger.status(1, "Charging")
        self.chargers[cp_id] = charger

    def start_reporting(self) -> None:
        """Each charger reports every interval, their phases spread over the interval."""
        count = max(len(self.chargers), 1)
        for index, charger in enumerate(self.chargers.values()):
            offset = self.report_interval_s * index / count
            self._tasks.append(asyncio.create_task(self._report(charger, offset)))

    async def _report(self, charger: BenchCharger, offset_s: float) -> None:
        await asyncio.sleep(offset_s)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            # The simulated charger's clock only moves when told; it runs on the wall clock here.
            charger.sim.now = datetime.now(UTC)
            started = time.perf_counter()
            try:
                await charger.meter_values(1)
            except Exception as err:  # noqa: BLE001 - counted and shown, the run goes on
                self.errors.append(f"{charger.id} MeterValues: {err!r}")
            else:
                self.report_rtt_ms.append((time.perf_counter() - started) * 1000)
            next_at += self.report_interval_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def profiles_since(self, moment: float) -> int:
        return sum(
            1 for c in self.chargers.values() for p in c.seen if p.at >= moment and p.stack_level
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for ws in self._connections:
            with contextlib.suppress(Exception):
                await ws.close()


async def measure_loop_lag(samples: list[float], period_s: float = 0.05) -> None:
    """The driver's own event-loop lag: a busy driver would delay what it time-stamps."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(period_s)
        samples.append((loop.time() - started - period_s) * 1000)
