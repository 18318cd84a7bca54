"""The demo site's devices: a Modbus grid meter and OCPP charge points with cars coming and going.

`DemoDevices` runs them against an EV Load Balancer site (the one `demo_site()` describes):
every tick the meter shows the building's load plus what each car draws on the site's phases
(the meter "includes chargers"), and each charge point starts and stops sessions as the
timetable says, reconnecting whenever its connection drops (a restart of Home Assistant, a
charger adopted from the repair).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import logging
from pathlib import Path
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from custom_components.ev_load_balancer.meters import REGISTER_MAPS, MeterModel, PhaseReading
from demo.building import Phases, building_load
from demo.chargepoint import Car, SimCharger16, SimCharger201, SimState, run
from demo.meter import MeterGateway, SimMeter, start_gateway
from demo.provision import ChargerSpec, SiteSpec, modbus_meter
from demo.schedule import VISITS, Visit, visit_at

_LOGGER = logging.getLogger(__name__)

VOLTAGE_V = 230.0
RECONNECT_S = 3.0


@dataclass(frozen=True)
class DemoCharger:
    """A simulated charge point: how it is added to the site, and its OCPP version."""

    spec: ChargerSpec
    ocpp: str = "1.6"
    added: bool = True
    """False for the charge point nobody added: it waits pending until adopted."""

    @property
    def charge_point_id(self) -> str:
        return self.spec.charge_point_id

    @property
    def lines(self) -> tuple[int, ...]:
        """The site line (0 for L1...) fed by each of the charger's conductors."""
        wiring = self.spec.wiring
        return tuple(int(wiring[i + 1]) - 1 for i in range(0, len(wiring), 2))


CHARGERS: tuple[DemoCharger, ...] = (
    DemoCharger(ChargerSpec("Driveway", "DEMO-DRIVEWAY", max_a=16)),
    DemoCharger(ChargerSpec("Garage", "DEMO-GARAGE", wiring="L2L3L1", max_a=16)),
    DemoCharger(ChargerSpec("Carport", "DEMO-CARPORT", max_a=32), ocpp="2.0.1"),
    DemoCharger(ChargerSpec("Visitor", "DEMO-VISITOR", phases=1, wiring="L2", max_a=32)),
    DemoCharger(
        ChargerSpec("Workshop", "DEMO-WORKSHOP", wiring="L3L1L2", max_a=16, priority=1),
        ocpp="2.0.1",
    ),
    DemoCharger(ChargerSpec("Neighbour", "DEMO-NEIGHBOUR", max_a=16), added=False),
)


def demo_site(
    *, ocpp_port: int = 9000, modbus_host: str = "127.0.0.1", modbus_port: int = 5020
) -> SiteSpec:
    """A 3x32 A TN house, 230 V, measured by an SDM630 on Modbus TCP that includes the chargers."""
    return SiteSpec(
        name="Demo site",
        grid="TN",
        phases=3,
        voltage_v=VOLTAGE_V,
        fuse_a=32,
        margin_a=2,
        reserve_a=0,
        failsafe_a=6,
        ocpp_port=ocpp_port,
        unknown_chargers="pending",
        meter=modbus_meter(modbus_host, modbus_port),
    )


def site_lines(building: Phases, draws: Sequence[tuple[DemoCharger, Sequence[float]]]) -> Phases:
    """What the grid meter sees per line: the building plus each charger's conductors."""
    lines = list(building)
    for charger, currents in draws:
        for conductor, line in enumerate(charger.lines):
            lines[line] += currents[conductor]
    return (lines[0], lines[1], lines[2])


type Charger = SimCharger16 | SimCharger201


@dataclass
class ChargePointRunner:
    """One simulated charge point: connects, boots, plays its cars' sessions, reconnects."""

    charger: DemoCharger
    url: str
    hour: Callable[[], float]
    visits: Sequence[Visit] = VISITS
    meter_values_s: float | None = None
    """Seconds between meter values; None follows what the central system configured."""
    tick_s: float = 1.0
    reconnect_s: float = RECONNECT_S
    state: SimState | None = None
    connected: bool = False
    accepted: bool = False
    device: Charger | None = field(default=None, repr=False)
    _visit: Visit | None = field(default=None, repr=False)
    _full: bool = field(default=False, repr=False)

    @property
    def charging(self) -> bool:
        return self.state is not None and 1 in self.state.transactions

    def draw(self) -> list[float]:
        """What the car draws on the charger's conductors right now."""
        if self.state is None or not self.charging:
            return [0.0, 0.0, 0.0]
        self.state.now = datetime.now(UTC)
        return self.state.car.currents(self.state.offered(1))

    async def run_forever(self) -> None:
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - any failure of a connection: start over
                _LOGGER.debug("%s: %r, reconnecting", self.charger.charge_point_id, err)
            self.connected = self.accepted = False
            await asyncio.sleep(self.reconnect_s)

    async def _session(self) -> None:
        version = self.charger.ocpp
        ws = await connect(
            f"{self.url}/{self.charger.charge_point_id}",
            subprotocols=[Subprotocol(f"ocpp{version}")],
            open_timeout=5,
        )
        device: Charger
        if version == "1.6":
            device = SimCharger16(self.charger.charge_point_id, ws)
        else:
            device = SimCharger201(self.charger.charge_point_id, ws)
        # The charger keeps its sessions and profiles over a lost connection.
        if self.state is not None:
            device.sim = self.state
        self.state, self.device = device.sim, device
        serve = asyncio.create_task(run(device))
        try:
            self.connected = True
            await self._boot(device, serve)
            await self._play(device, serve, ws)
        finally:
            serve.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serve
            await ws.close()

    async def _boot(self, device: Charger, serve: asyncio.Task[None]) -> None:
        """Boot until accepted: a pending charger asks again after the interval it was given."""
        while not serve.done():
            device.sim.now = datetime.now(UTC)
            result = await device.boot()
            if result.status == "Accepted":
                self.accepted = True
                return
            # Until then, or until the central system drops it (it does once the charger
            # is added, so that it boots again as a known one).
            await asyncio.wait({serve}, timeout=min(max(int(result.interval or 10), 2), 30))
        raise ConnectionError("closed while booting")

    async def _play(self, device: Charger, serve: asyncio.Task[None], ws: ClientConnection) -> None:
        sim = device.sim
        if 1 in sim.transactions:
            await self._status(device, "Charging")
        else:
            await self._status(device, "Available")
        last_sample = time.monotonic()
        while not serve.done():
            sim.now = datetime.now(UTC)
            hour = self.hour()
            visit = visit_at(self.visits, self.charger.charge_point_id, hour)
            if visit is not None:
                sim.car = visit.car_now(hour)
            if visit is not None and 1 not in sim.transactions:
                await self._start(device)
                last_sample = time.monotonic()
            elif visit is None and 1 in sim.transactions:
                await self._stop(device)
            elif visit is not None and visit is not self._visit and self._visit is not None:
                # One car left and the next arrived within a tick.
                await self._stop(device)
                await self._start(device)
            self._visit = visit
            interval = self.meter_values_s or self._configured_interval(device)
            if 1 in sim.transactions and time.monotonic() - last_sample >= interval:
                last_sample = time.monotonic()
                await self._meter_values(device, full=visit is not None and visit.full(hour))
            await asyncio.sleep(self.tick_s)
        raise ConnectionError(f"connection closed: {ws.close_code}")

    @staticmethod
    def _configured_interval(device: Charger) -> float:
        if isinstance(device, SimCharger16):
            value = device.config.get("MeterValueSampleInterval", "10")
        else:
            value = device.device_model.get(("SampledDataCtrlr", "TxUpdatedInterval"), "10")
        try:
            return max(float(value), 1.0)
        except ValueError:
            return 10.0

    async def _status(self, device: Charger, status: str) -> None:
        if isinstance(device, SimCharger201):
            # 2.0.1 connectors are only Available or Occupied; the session state is in the
            # transaction events.
            status = "Available" if status == "Available" else "Occupied"
        await device.status(1, status)

    async def _start(self, device: Charger) -> None:
        await self._status(device, "Preparing")
        if isinstance(device, SimCharger16):
            await device.start_transaction(1, id_tag="DEMO")
        else:
            await device.transaction_event(1, "Started")
        await self._status(device, "Charging")
        self._full = False

    async def _stop(self, device: Charger) -> None:
        # The car stops drawing before the session ends, so the last values show 0 A.
        device.sim.car = Car(phases=3, max_a=0.0)
        if isinstance(device, SimCharger16):
            await device.stop_transaction(1)
            await self._status(device, "Finishing")
            await device.meter_values(1)
        else:
            await device.transaction_event(1, "Ended", charging_state="EVConnected")
        await self._status(device, "Available")

    async def _meter_values(self, device: Charger, *, full: bool) -> None:
        if isinstance(device, SimCharger16):
            if full != self._full:
                await self._status(device, "SuspendedEV" if full else "Charging")
            await device.meter_values(1)
        else:
            await device.transaction_event(
                1, "Updated", charging_state="SuspendedEV" if full else "Charging"
            )
        self._full = full


@dataclass
class DemoDevices:
    """The meter and charge points of the demo site, running until stopped."""

    ocpp_url: str
    modbus_port: int = 5020
    modbus_host: str = "127.0.0.1"
    chargers: Sequence[DemoCharger] = CHARGERS
    visits: Sequence[Visit] = VISITS
    hour: Callable[[], float] = field(default=lambda: 17.0)
    tick_s: float = 1.0
    meter_values_s: float | None = None
    reconnect_s: float = RECONNECT_S
    meter: SimMeter = field(
        default_factory=lambda: SimMeter(
            unit_id=1, register_map=REGISTER_MAPS[MeterModel.EASTRON_SDM630]
        )
    )
    runners: list[ChargePointRunner] = field(default_factory=list)
    gateway: MeterGateway | None = None
    energy_kwh: float = 48_000.0
    state_path: Path | None = None
    """Where the meters' energy totals are kept between runs: real registers never go back."""
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, repr=False)

    async def start(self) -> None:
        """Serve the meter (first: the config flow reads it) and start the charge points."""
        saved = self._load()
        self.energy_kwh = float(saved.get("meter_kwh", self.energy_kwh))
        self.gateway = await start_gateway(
            [self.meter], host=self.modbus_host, port=self.modbus_port
        )
        self.modbus_port = self.gateway.port
        await self.write_meter()
        self.runners = [
            ChargePointRunner(
                charger,
                self.ocpp_url,
                self.hour,
                self.visits,
                meter_values_s=self.meter_values_s,
                tick_s=self.tick_s,
                reconnect_s=self.reconnect_s,
            )
            for charger in self.chargers
        ]
        for runner in self.runners:
            runner.state = SimState(1, Car(max_a=0.0), set())
            wh = saved.get("chargers", {}).get(runner.charger.charge_point_id)
            runner.state.energy_wh[1] = float(wh) if wh is not None else 1000.0
        self._tasks = [
            asyncio.create_task(runner.run_forever(), name=runner.charger.charge_point_id)
            for runner in self.runners
        ]
        self._tasks.append(asyncio.create_task(self._meter_loop(), name="demo meter"))

    def lines(self) -> Phases:
        """What the grid meter shows now."""
        draws = [(runner.charger, runner.draw()) for runner in self.runners]
        return site_lines(building_load(self.hour()), draws)

    async def write_meter(self) -> Phases:
        lines = self.lines()
        # The voltage sags a little under load, as it does at the end of a long service cable.
        voltages = tuple(round(VOLTAGE_V + 2.0 - 0.08 * current, 1) for current in lines)
        powers = tuple(round(v * i * 0.97, 0) for v, i in zip(voltages, lines, strict=True))
        self.energy_kwh += sum(powers) / 1000 * self.tick_s / 3600
        await self.meter.write_reading(
            PhaseReading(
                current_a=lines,
                voltage_v=(voltages[0], voltages[1], voltages[2]),
                power_w=(powers[0], powers[1], powers[2]),
                energy_import_kwh=round(self.energy_kwh, 2),
                energy_export_kwh=0.0,
                timestamp=time.monotonic(),
            )
        )
        return lines

    def summary(self) -> str:
        """One line on what happens now: the time of day, the house and each car's draw."""
        hour = self.hour()
        house = "/".join(f"{a:.0f}" for a in building_load(hour))
        grid = "/".join(f"{a:.0f}" for a in self.lines())
        cars = ", ".join(
            f"{runner.charger.spec.name} {max(runner.draw()):.1f} A"
            for runner in self.runners
            if runner.charging
        )
        clock = f"{int(hour):02d}:{int(hour % 1 * 60):02d}"
        return f"{clock} house {house} A, grid meter {grid} A; cars: {cars or 'none'}"

    async def _meter_loop(self) -> None:
        saved = time.monotonic()
        last_hour = int(self.hour())
        while True:
            await self.write_meter()
            if int(self.hour()) != last_hour:
                last_hour = int(self.hour())
                _LOGGER.info("%s", self.summary())
            if time.monotonic() - saved >= 30:
                saved = time.monotonic()
                await asyncio.to_thread(self._save)
            await asyncio.sleep(self.tick_s)

    def _load(self) -> dict[str, Any]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            return dict(json.loads(self.state_path.read_text()))
        except ValueError, OSError:
            return {}

    def _save(self) -> None:
        if self.state_path is None:
            return
        chargers = {
            runner.charger.charge_point_id: runner.state.energy_wh.get(1, 1000.0)
            for runner in self.runners
            if runner.state is not None
        }
        self.state_path.write_text(
            json.dumps({"meter_kwh": self.energy_kwh, "chargers": chargers}) + "\n"
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._save()
        if self.gateway is not None:
            await self.gateway.server.shutdown()
            self.gateway = None
