"""Modbus meters against a pymodbus server holding each model's register map."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
import logging
import math
import socket
import struct

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ev_load_balancer.meters import (
    REGISTER_MAPS,
    MeterConnectionError,
    MeterError,
    MeterHealth,
    MeterModel,
    MeterResponseError,
    MeterSource,
    MeterTimeoutError,
    ModbusGatewayPool,
    ModbusLink,
    ModbusMeter,
    ModbusTransport,
    PhaseReading,
    modbus,
)
from custom_components.ev_load_balancer.meters.modbus import ModbusGateway
from custom_components.ev_load_balancer.meters.registers import (
    ABB_B23_B24,
    EM24,
    SDM630,
    RegisterField,
    RegisterKind,
    RegisterMap,
)
from demo.meter import SimMeter

from .conftest import FakeClock, GatewayFactory

# Values every encoding holds exactly (float32, and integers at 0.1, 0.01 and 0.001 scales).
KNOWN = PhaseReading(
    current_a=(16.25, 7.5, 0.25),
    voltage_v=(230.5, 231.0, 229.5),
    power_w=(3737.5, -1725.0, 57.5),
    energy_import_kwh=12345.5,
    energy_export_kwh=42.5,
    timestamp=0.0,
)
OTHER = PhaseReading(
    current_a=(31.5, 0.0, 12.75),
    voltage_v=(228.0, 0.0, 233.5),
    power_w=(7182.0, 0.0, 2977.5),
    energy_import_kwh=99.5,
    energy_export_kwh=0.0,
    timestamp=0.0,
)
REQUEST_TIMEOUT_S = 0.1
TIMEOUT_S = 5.0


def tcp_link(port: int, transport: ModbusTransport = ModbusTransport.TCP) -> ModbusLink:
    return ModbusLink(
        transport=transport, host="127.0.0.1", port=port, request_timeout_s=REQUEST_TIMEOUT_S
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def fire_after(hass: HomeAssistant, seconds: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))


async def wait_for_reading(meter: MeterSource, wanted: Callable[[PhaseReading], bool]) -> None:
    """Wait (bounded) until the meter publishes a reading that `wanted` accepts."""
    found = asyncio.Event()

    def listener(source: MeterSource) -> None:
        if source.reading is not None and wanted(source.reading):
            found.set()

    remove = meter.add_listener(listener)
    async with asyncio.timeout(5):
        await found.wait()
    remove()


def make_meter(
    link: ModbusLink,
    model: MeterModel,
    *,
    unit_id: int = 1,
    clock: FakeClock,
    pool: ModbusGatewayPool | None = None,
    poll_interval_s: float = 3600,
) -> ModbusMeter:
    """A meter whose background poll runs once at start: tests poll by hand."""
    return ModbusMeter(
        f"meter_{unit_id}",
        link=link,
        unit_id=unit_id,
        model=model,
        pool=pool,
        poll_interval_s=poll_interval_s,
        timeout_s=TIMEOUT_S,
        clock=clock,
    )


@pytest.mark.parametrize(
    ("model", "kind", "word_order", "current_addresses"),
    [
        (MeterModel.EASTRON_SDM630, RegisterKind.INPUT, "big", (0x0006, 0x0008, 0x000A)),
        (MeterModel.EASTRON_SDM72D_M_V2, RegisterKind.INPUT, "big", (0x0006, 0x0008, 0x000A)),
        (MeterModel.ABB_B23_B24, RegisterKind.HOLDING, "big", (0x5B0C, 0x5B0E, 0x5B10)),
        (MeterModel.CARLO_GAVAZZI_EM24, RegisterKind.INPUT, "little", (0x000C, 0x000E, 0x0010)),
        (MeterModel.CARLO_GAVAZZI_EM340, RegisterKind.INPUT, "little", (0x000C, 0x000E, 0x0010)),
    ],
)
def test_register_maps_follow_the_manuals(
    model: MeterModel, kind: RegisterKind, word_order: str, current_addresses: tuple[int, ...]
) -> None:
    register_map = REGISTER_MAPS[model]
    assert register_map.kind is kind
    assert register_map.word_order == word_order
    assert tuple(f.address for f in register_map.current_a) == current_addresses


def _words(fmt: str, raw: float, *, low_word_first: bool) -> list[int]:
    """Encode one value as the manual lays it out, without the maps or pymodbus."""
    packed = struct.pack(f">{fmt}", raw)
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    return words[::-1] if low_word_first else words


def _image(
    fmt: str, scale: float, addresses: dict[int, float], *, low_word_first: bool = False
) -> dict[int, list[int]]:
    return {
        address: _words(
            fmt, value if fmt == "f" else round(value * scale), low_word_first=low_word_first
        )
        for address, value in addresses.items()
    }


def _manual_image(model: MeterModel) -> dict[int, list[int]]:
    """KNOWN as raw registers at the addresses, types and scales the makers' manuals give."""
    volts, amps, watts = KNOWN.voltage_v or (), KNOWN.current_a, KNOWN.power_w or ()
    kwh_in, kwh_out = KNOWN.energy_import_kwh or 0.0, KNOWN.energy_export_kwh or 0.0
    match model:
        case MeterModel.EASTRON_SDM630 | MeterModel.EASTRON_SDM72D_M_V2:
            values = dict(zip((0x00, 0x02, 0x04), volts, strict=True))
            values |= dict(zip((0x06, 0x08, 0x0A), amps, strict=True))
            values |= dict(zip((0x0C, 0x0E, 0x10), watts, strict=True))
            return _image("f", 1, values | {0x48: kwh_in, 0x4A: kwh_out})
        case MeterModel.ABB_B23_B24:
            return (
                _image("I", 10, dict(zip((0x5B00, 0x5B02, 0x5B04), volts, strict=True)))
                | _image("I", 100, dict(zip((0x5B0C, 0x5B0E, 0x5B10), amps, strict=True)))
                | _image("i", 100, dict(zip((0x5B16, 0x5B18, 0x5B1A), watts, strict=True)))
                | _image("Q", 100, {0x5000: kwh_in, 0x5004: kwh_out})
            )
        case MeterModel.CARLO_GAVAZZI_EM24 | MeterModel.CARLO_GAVAZZI_EM340:
            lsw = {"low_word_first": True}
            return (
                _image("i", 10, dict(zip((0x00, 0x02, 0x04), volts, strict=True)), **lsw)
                | _image("i", 1000, dict(zip((0x0C, 0x0E, 0x10), amps, strict=True)), **lsw)
                | _image("i", 10, dict(zip((0x12, 0x14, 0x16), watts, strict=True)), **lsw)
                | _image("i", 10, {0x34: kwh_in, 0x4E: kwh_out}, **lsw)
            )


@pytest.mark.parametrize("model", list(MeterModel))
async def test_each_map_decodes_a_register_image_from_its_manual_exactly(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, clock: FakeClock, model: MeterModel
) -> None:
    fake = SimMeter(unit_id=3, register_map=REGISTER_MAPS[model])
    gateway = await modbus_gateway([fake])
    for address, words in _manual_image(model).items():
        await gateway.server.async_setValues(3, fake.function_code, address, words)
    meter = make_meter(tcp_link(gateway.port), model, unit_id=3, clock=clock)
    await meter.start()

    reading = await meter.async_poll()

    await meter.stop()
    assert reading == replace(KNOWN, timestamp=clock.now)
    assert meter.reading == reading
    assert meter.health is MeterHealth.HEALTHY
    assert meter.problem is None


@pytest.mark.parametrize(
    ("register_map", "blocks"),
    [
        (SDM630, [(0x0000, 18), (0x0048, 4)]),
        (ABB_B23_B24, [(0x5000, 8), (0x5B00, 28)]),
        (EM24, [(0x0000, 24), (0x0034, 2), (0x004E, 2)]),
    ],
)
def test_nearby_registers_are_read_in_one_request(
    register_map: RegisterMap, blocks: list[tuple[int, int]]
) -> None:
    assert [(b.address, b.count) for b in register_map.blocks()] == blocks


async def test_values_changed_on_the_meter_are_picked_up_by_polling(
    hass: HomeAssistant, modbus_gateway: GatewayFactory
) -> None:
    fake = SimMeter(unit_id=1, register_map=SDM630)
    gateway = await modbus_gateway([fake])
    await fake.write_reading(KNOWN)
    meter = ModbusMeter(
        "main",
        link=tcp_link(gateway.port),
        unit_id=1,
        model=MeterModel.EASTRON_SDM630,
        poll_interval_s=0.02,
    )
    await meter.start()
    await wait_for_reading(meter, lambda r: r.current_a == KNOWN.current_a)

    await fake.write_value(SDM630.current_a[1], 24.5)
    await wait_for_reading(meter, lambda r: r.current_a == (16.25, 24.5, 0.25))

    await meter.stop()
    assert meter.health is MeterHealth.HEALTHY


async def _device_failure(fake: SimMeter) -> None:
    fake.exception = ExcCodes.DEVICE_FAILURE


async def _stop_answering(fake: SimMeter) -> None:
    fake.silent = True


async def _abb_invalid_marker(fake: SimMeter) -> None:
    await fake.write_raw(ABB_B23_B24.current_a[1], 0xFFFF_FFFF)


async def _nan(fake: SimMeter) -> None:
    await fake.write_raw(SDM630.current_a[2], math.nan)


@pytest.mark.parametrize(
    ("model", "inject", "problem"),
    [
        (MeterModel.EASTRON_SDM630, _device_failure, "exception 0x04"),
        (MeterModel.CARLO_GAVAZZI_EM24, _stop_answering, "no answer"),
        (MeterModel.ABB_B23_B24, _abb_invalid_marker, "0x5b0e holds no valid value"),
        (MeterModel.EASTRON_SDM630, _nan, "0x000a holds nan"),
    ],
)
async def test_a_fault_makes_the_meter_unhealthy_within_its_timeout_and_it_recovers(
    hass: HomeAssistant,
    *,
    modbus_gateway: GatewayFactory,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    model: MeterModel,
    inject: Callable[[SimMeter], Awaitable[None]],
    problem: str,
) -> None:
    fake = SimMeter(unit_id=1, register_map=REGISTER_MAPS[model])
    gateway = await modbus_gateway([fake])
    await fake.write_reading(KNOWN)
    meter = make_meter(tcp_link(gateway.port), model, clock=clock)
    changes: list[MeterHealth] = []
    meter.add_listener(lambda source: changes.append(source.health))
    await meter.start()
    good = await meter.async_poll()

    await inject(fake)
    assert await meter.async_poll() is None
    fire_after(hass, TIMEOUT_S - 1)
    assert meter.health is MeterHealth.HEALTHY
    assert problem in (meter.problem or "")

    fire_after(hass, TIMEOUT_S + 0.5)
    assert meter.health is MeterHealth.UNHEALTHY
    assert problem in (meter.problem or "")
    # The last valid reading stays what it was: a fault never reads as 0 A.
    assert meter.reading == good

    assert await meter.async_poll() is None
    fire_after(hass, 2 * TIMEOUT_S)
    fake.exception, fake.silent = None, False
    await fake.write_reading(OTHER)
    assert await meter.async_poll() == replace(OTHER, timestamp=clock.now)
    assert meter.health is MeterHealth.HEALTHY

    await meter.stop()
    assert changes[-2:] == [MeterHealth.UNHEALTHY, MeterHealth.HEALTHY]
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "meter_1" in r.message
    ]
    assert len(warnings) == 1
    assert "is unavailable" in warnings[0].message
    assert sum("meter_1" in r.message and "is back" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("register_field", "raw", "left_out"),
    [
        # An import-only B23 marks its export energy invalid for good.
        (ABB_B23_B24.energy_export_kwh, 0xFFFF_FFFF_FFFF_FFFF, {"energy_export_kwh": None}),
        (ABB_B23_B24.power_w[2], 0x7FFF_FFFF, {"power_w": None}),
        (ABB_B23_B24.voltage_v[0], 0xFFFF_FFFF, {"voltage_v": None}),
    ],
)
async def test_an_invalid_value_other_than_current_is_left_out(
    hass: HomeAssistant,
    *,
    modbus_gateway: GatewayFactory,
    clock: FakeClock,
    register_field: RegisterField,
    raw: int,
    left_out: dict[str, None],
) -> None:
    fake = SimMeter(unit_id=1, register_map=ABB_B23_B24)
    gateway = await modbus_gateway([fake])
    await fake.write_reading(KNOWN)
    await fake.write_raw(register_field, raw)
    meter = make_meter(tcp_link(gateway.port), MeterModel.ABB_B23_B24, clock=clock)
    await meter.start()

    reading = await meter.async_poll()

    await meter.stop()
    assert reading == replace(KNOWN, timestamp=clock.now, **left_out)
    assert meter.health is MeterHealth.HEALTHY


async def test_an_unreachable_meter_is_unhealthy_after_its_timeout(
    hass: HomeAssistant, socket_enabled: None, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    meter = make_meter(tcp_link(closed_port()), MeterModel.EASTRON_SDM630, clock=clock)
    await meter.start()
    assert await meter.async_poll() is None

    fire_after(hass, TIMEOUT_S + 0.5)

    await meter.stop()
    assert meter.health is MeterHealth.UNHEALTHY
    assert meter.reading is None
    assert "cannot connect" in (meter.problem or "")
    assert "meter_1" in caplog.text
    assert "is unavailable: cannot connect" in caplog.text


async def test_reconnects_with_a_doubling_back_off(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, clock: FakeClock
) -> None:
    port = closed_port()
    gateway = ModbusGateway(tcp_link(port), reconnect_min_s=1, reconnect_max_s=4, clock=clock)
    blocks = SDM630.blocks()

    async def attempt() -> str:
        with pytest.raises(MeterConnectionError) as err:
            await gateway.read(1, RegisterKind.INPUT, blocks)
        return str(err.value)

    assert "next attempt" not in await attempt()
    assert "next attempt in 1 s" in await attempt()
    waits = []
    for _ in range(4):
        clock.advance(4)
        await attempt()
        waits.append(await attempt())
    assert [w.rsplit("next attempt in ", 1)[1] for w in waits] == ["2 s", "4 s", "4 s", "4 s"]

    fake = SimMeter(unit_id=1, register_map=SDM630)
    await modbus_gateway([fake], port=port)
    await fake.write_reading(KNOWN)
    assert "next attempt in 4 s" in await attempt()
    clock.advance(4)
    assert len(await gateway.read(1, RegisterKind.INPUT, blocks)) == len(blocks)
    gateway.close()


async def test_meters_on_one_rtu_gateway_share_a_connection_and_take_turns(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, clock: FakeClock
) -> None:
    fakes = [SimMeter(unit_id=1, register_map=SDM630), SimMeter(unit_id=2, register_map=EM24)]
    gateway = await modbus_gateway(fakes, framer=FramerType.RTU)
    await fakes[0].write_reading(KNOWN)
    await fakes[1].write_reading(OTHER)
    link = tcp_link(gateway.port, ModbusTransport.RTU_OVER_TCP)
    pool = ModbusGatewayPool(clock=clock)
    sdm = make_meter(link, MeterModel.EASTRON_SDM630, unit_id=1, pool=pool, clock=clock)
    em24 = make_meter(link, MeterModel.CARLO_GAVAZZI_EM24, unit_id=2, pool=pool, clock=clock)
    await sdm.start()
    await em24.start()

    # RTU frames carry no transaction id: interleaved requests would mix up the answers.
    readings = await asyncio.gather(*(m.async_poll() for _ in range(10) for m in (sdm, em24)))

    assert (
        readings == [replace(KNOWN, timestamp=clock.now), replace(OTHER, timestamp=clock.now)] * 10
    )
    assert gateway.connections == 1
    await sdm.stop()
    assert await em24.async_poll() == replace(OTHER, timestamp=clock.now)
    await em24.stop()


async def test_a_silent_unit_does_not_take_down_its_neighbour_for_long(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, clock: FakeClock
) -> None:
    fakes = [SimMeter(unit_id=1, register_map=SDM630), SimMeter(unit_id=2, register_map=SDM630)]
    gateway = await modbus_gateway(fakes, framer=FramerType.RTU)
    await fakes[0].write_reading(KNOWN)
    fakes[1].silent = True
    link = tcp_link(gateway.port, ModbusTransport.RTU_OVER_TCP)
    pool = ModbusGatewayPool(clock=clock)
    good = make_meter(link, MeterModel.EASTRON_SDM630, unit_id=1, pool=pool, clock=clock)
    silent = make_meter(link, MeterModel.EASTRON_SDM630, unit_id=2, pool=pool, clock=clock)
    await good.start()
    await silent.start()

    assert await silent.async_poll() is None
    assert await good.async_poll() == replace(KNOWN, timestamp=clock.now)

    await good.stop()
    await silent.stop()
    assert "no answer from" in (silent.problem or "")


async def test_serial_rtu(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, clock: FakeClock
) -> None:
    fake = SimMeter(unit_id=3, register_map=ABB_B23_B24)
    gateway = await modbus_gateway([fake], framer=FramerType.RTU)
    await fake.write_reading(KNOWN)
    # pyserial opens URLs as well as device paths; socket:// stands in for an RS485 adapter.
    link = ModbusLink(
        transport=ModbusTransport.SERIAL,
        serial_port=f"socket://127.0.0.1:{gateway.port}",
        baudrate=19200,
        parity="E",
        request_timeout_s=REQUEST_TIMEOUT_S,
    )
    meter = make_meter(link, MeterModel.ABB_B23_B24, unit_id=3, clock=clock)
    await meter.start()

    reading = await meter.async_poll()

    await meter.stop()
    assert reading == replace(KNOWN, timestamp=clock.now)
    assert meter.describe() == f"ABB B23/B24 at socket://127.0.0.1:{gateway.port} 19200 8E1 unit 3"


async def test_connection_returns_what_it_read(
    hass: HomeAssistant, modbus_gateway: GatewayFactory
) -> None:
    fake = SimMeter(unit_id=5, register_map=EM24)
    gateway = await modbus_gateway([fake])
    await fake.write_reading(KNOWN)

    reading = await modbus.test_connection(
        tcp_link(gateway.port), unit_id=5, model=MeterModel.CARLO_GAVAZZI_EM24
    )

    assert replace(reading, timestamp=0.0) == KNOWN


async def _no_server(modbus_gateway: GatewayFactory) -> int:
    return closed_port()


async def _serve(modbus_gateway: GatewayFactory, fake: SimMeter) -> int:
    port = (await modbus_gateway([fake])).port
    await fake.write_reading(KNOWN)
    return port


async def _silent_sdm630(modbus_gateway: GatewayFactory) -> int:
    return await _serve(modbus_gateway, SimMeter(unit_id=1, register_map=SDM630, silent=True))


async def _sdm630(modbus_gateway: GatewayFactory) -> int:
    return await _serve(modbus_gateway, SimMeter(unit_id=1, register_map=SDM630))


async def _em24(modbus_gateway: GatewayFactory) -> int:
    return await _serve(modbus_gateway, SimMeter(unit_id=1, register_map=EM24))


async def _gateway_without_unit(modbus_gateway: GatewayFactory) -> int:
    fake = SimMeter(unit_id=1, register_map=SDM630, exception=ExcCodes.GATEWAY_NO_RESPONSE)
    return await _serve(modbus_gateway, fake)


async def _sdm630_reading_megaamperes(modbus_gateway: GatewayFactory) -> int:
    fake = SimMeter(unit_id=1, register_map=SDM630)
    port = await _serve(modbus_gateway, fake)
    await fake.write_value(SDM630.current_a[0], 1e6)
    return port


@pytest.mark.parametrize(
    ("server", "model", "error", "reason", "message"),
    [
        (_no_server, MeterModel.EASTRON_SDM630, MeterConnectionError, "cannot_connect", "cannot"),
        (_silent_sdm630, MeterModel.EASTRON_SDM630, MeterTimeoutError, "timeout", "no answer"),
        # An SDM630 has no holding registers at 0x5B00.
        (_sdm630, MeterModel.ABB_B23_B24, MeterResponseError, "wrong_model", "exception 0x02"),
        # An EM24 read as an SDM630: its integers make no sense as floats.
        (_em24, MeterModel.EASTRON_SDM630, MeterResponseError, "wrong_model", "not those of"),
        (
            _sdm630_reading_megaamperes,
            MeterModel.EASTRON_SDM630,
            MeterResponseError,
            "wrong_model",
            r"currents \(1000000.0",
        ),
        # An RS485 gateway answers for a unit id that nothing on the bus has.
        (
            _gateway_without_unit,
            MeterModel.EASTRON_SDM630,
            MeterTimeoutError,
            "timeout",
            "got no answer from unit 1",
        ),
    ],
)
async def test_connection_errors(
    hass: HomeAssistant,
    *,
    socket_enabled: None,
    modbus_gateway: GatewayFactory,
    server: Callable[[GatewayFactory], Awaitable[int]],
    model: MeterModel,
    error: type[MeterError],
    reason: str,
    message: str,
) -> None:
    port = await server(modbus_gateway)

    with pytest.raises(error, match=message) as raised:
        await modbus.test_connection(tcp_link(port), unit_id=1, model=model)

    assert raised.value.reason == reason


async def test_the_meter_recovers_when_its_gateway_comes_back(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, clock: FakeClock
) -> None:
    fake = SimMeter(unit_id=1, register_map=SDM630)
    gateway = await modbus_gateway([fake])
    await fake.write_reading(KNOWN)
    pool = ModbusGatewayPool(reconnect_min_s=1, clock=clock)
    meter = make_meter(tcp_link(gateway.port), MeterModel.EASTRON_SDM630, pool=pool, clock=clock)
    await meter.start()
    assert await meter.async_poll() is not None

    await gateway.server.shutdown()
    await asyncio.sleep(0)  # let the client see the closed connection
    assert await meter.async_poll() is None
    assert "cannot connect" in (meter.problem or "")
    fire_after(hass, TIMEOUT_S + 0.5)
    assert meter.health is MeterHealth.UNHEALTHY

    fake = SimMeter(unit_id=1, register_map=SDM630)
    await modbus_gateway([fake], port=gateway.port)
    await fake.write_reading(OTHER)
    clock.advance(1)
    assert await meter.async_poll() == replace(OTHER, timestamp=clock.now)
    assert meter.health is MeterHealth.HEALTHY
    await meter.stop()


async def test_polling_survives_an_unexpected_error(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = SimMeter(unit_id=1, register_map=SDM630)
    gateway = await modbus_gateway([fake])
    await fake.write_reading(KNOWN)
    meter = ModbusMeter(
        "main",
        link=tcp_link(gateway.port),
        unit_id=1,
        model=MeterModel.EASTRON_SDM630,
        poll_interval_s=0.01,
    )
    failures = [RuntimeError("listener bug")] * 3

    def failing_listener(_source: MeterSource) -> None:
        if failures:
            raise failures.pop()

    meter.add_listener(failing_listener)
    await meter.start()
    await wait_for_reading(meter, lambda r: r.current_a == KNOWN.current_a)
    await meter.stop()

    logged = [r for r in caplog.records if "Unexpected error reading meter main" in r.message]
    assert len(logged) == 1


async def test_stop_ends_a_request_in_flight(
    hass: HomeAssistant, modbus_gateway: GatewayFactory
) -> None:
    fake = SimMeter(unit_id=1, register_map=SDM630, silent=True)
    gateway = await modbus_gateway([fake])
    link = ModbusLink(
        transport=ModbusTransport.TCP, host="127.0.0.1", port=gateway.port, request_timeout_s=30
    )
    meter = ModbusMeter("main", link=link, unit_id=1, model=MeterModel.EASTRON_SDM630)
    await meter.start()
    async with asyncio.timeout(5):
        await fake.read_seen.wait()
        await meter.stop()


@pytest.mark.parametrize("unit_id", [-1, 256])
def test_unit_id_must_be_a_modbus_address(unit_id: int) -> None:
    with pytest.raises(ValueError, match="unit_id"):
        ModbusMeter("m", link=tcp_link(502), unit_id=unit_id, model=MeterModel.EASTRON_SDM630)


def test_link_needs_a_place_to_connect_to() -> None:
    with pytest.raises(ValueError, match="host"):
        ModbusLink(transport=ModbusTransport.TCP)
    with pytest.raises(ValueError, match="serial_port"):
        ModbusLink(transport=ModbusTransport.SERIAL)
