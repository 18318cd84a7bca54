"""Modbus meters: TCP, RTU over a serial port, and RTU framing over TCP (RS485 gateways)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
import logging
import math
import time
from typing import ClassVar, Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from .registers import (
    REGISTER_MAPS,
    MeterModel,
    PhaseFields,
    RegisterBlock,
    RegisterField,
    RegisterKind,
    RegisterMap,
)
from .source import Clock, MeterSource, PhaseReading, PhaseValues

_LOGGER = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 1.0
DEFAULT_MODBUS_TIMEOUT_S = 5.0
"""A Modbus meter without a valid reading for this long is unhealthy."""
DEFAULT_REQUEST_TIMEOUT_S = 1.0
DEFAULT_RECONNECT_MIN_S = 1.0
DEFAULT_RECONNECT_MAX_S = 60.0

# Gateway exception codes: the gateway answers, the meter behind it does not.
_GATEWAY_EXCEPTION_CODES = frozenset({0x0A, 0x0B})
# What a three-phase meter on a low-voltage grid can show; used to recognise a wrong model.
_PLAUSIBLE_VOLTAGE_V = (50.0, 500.0)
_PLAUSIBLE_CURRENT_A = 10_000.0

type _Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class MeterError(Exception):
    """A meter could not be read; `reason` is a key the config flow can show."""

    reason: ClassVar[str] = "unknown"


class MeterConnectionError(MeterError):
    """The gateway or meter cannot be reached."""

    reason = "cannot_connect"


class MeterTimeoutError(MeterError):
    """Connected, but the meter did not answer in time (wrong unit id or wiring?)."""

    reason = "timeout"


class MeterResponseError(MeterError):
    """The meter answered, but not as the chosen model would (wrong model or unit id)."""

    reason = "wrong_model"


class ModbusTransport(StrEnum):
    """How the meter is reached."""

    TCP = "tcp"
    """Modbus TCP (MBAP framing)."""
    RTU_OVER_TCP = "rtu_over_tcp"
    """RTU frames through a TCP socket: transparent RS485 gateways."""
    SERIAL = "serial"
    """Modbus RTU on a local serial port (an RS485 adapter)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ModbusLink:
    """One bus: meters with equal links share one client and take turns on it."""

    transport: ModbusTransport
    host: str = ""
    port: int = 502
    serial_port: str = ""
    """A device path such as /dev/ttyUSB0 (or any pyserial URL)."""
    baudrate: int = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S

    def __post_init__(self) -> None:
        """Reject a link that names no place to connect to."""
        if self.transport is ModbusTransport.SERIAL and not self.serial_port:
            raise ValueError("a serial link needs serial_port")
        if self.transport is not ModbusTransport.SERIAL and not self.host:
            raise ValueError("a TCP link needs host")

    def describe(self) -> str:
        """Write the link as a user would."""
        if self.transport is ModbusTransport.SERIAL:
            return f"{self.serial_port} {self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"
        return f"{self.transport} {self.host}:{self.port}"

    def create_client(self) -> _Client:
        """Create a client that neither retries nor reconnects by itself: we do both."""
        if self.transport is ModbusTransport.SERIAL:
            return AsyncModbusSerialClient(
                self.serial_port,
                framer=FramerType.RTU,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                timeout=self.request_timeout_s,
                retries=0,
                reconnect_delay=0,
            )
        return AsyncModbusTcpClient(
            self.host,
            port=self.port,
            framer=FramerType.RTU
            if self.transport is ModbusTransport.RTU_OVER_TCP
            else FramerType.SOCKET,
            timeout=self.request_timeout_s,
            retries=0,
            reconnect_delay=0,
        )


class ModbusGateway:
    """One client for one link, shared by every meter on it and used by one at a time."""

    def __init__(
        self,
        link: ModbusLink,
        *,
        reconnect_min_s: float = DEFAULT_RECONNECT_MIN_S,
        reconnect_max_s: float = DEFAULT_RECONNECT_MAX_S,
        clock: Clock = time.monotonic,
    ) -> None:
        """Prepare; nothing connects before the first read."""
        self.link = link
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._client: _Client | None = None
        self._backoff_s = 0.0
        self._next_connect_at = 0.0

    async def read(
        self, unit_id: int, kind: RegisterKind, blocks: Sequence[RegisterBlock]
    ) -> list[list[int]]:
        """Read `blocks` from one meter as one turn on the bus."""
        async with self._lock:
            client = await self._connected_client()
            return [await self._read_block(client, unit_id, kind, block) for block in blocks]

    def close(self) -> None:
        """Drop the connection; the next read reconnects."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _connected_client(self) -> _Client:
        if self._client is not None and self._client.connected:
            return self._client
        self.close()
        wait_s = self._next_connect_at - self._clock()
        if wait_s > 0:
            raise MeterConnectionError(
                f"cannot connect to {self.link.describe()}; next attempt in {wait_s:.0f} s"
            )
        client = self.link.create_client()
        if not await client.connect():
            client.close()
            self._backoff_s = min(
                max(self._backoff_s * 2, self._reconnect_min_s), self._reconnect_max_s
            )
            self._next_connect_at = self._clock() + self._backoff_s
            raise MeterConnectionError(f"cannot connect to {self.link.describe()}")
        self._backoff_s = 0.0
        self._client = client
        return client

    async def _read_block(
        self, client: _Client, unit_id: int, kind: RegisterKind, block: RegisterBlock
    ) -> list[int]:
        read = (
            client.read_input_registers
            if kind is RegisterKind.INPUT
            else client.read_holding_registers
        )
        where = f"{self.link.describe()} unit {unit_id}"
        try:
            response: ModbusPDU = await read(block.address, count=block.count, device_id=unit_id)
        except ConnectionException as err:
            self.close()
            raise MeterConnectionError(f"lost the connection to {where}") from err
        except ModbusIOException as err:
            # A late answer could be paired with the next request (RTU frames carry no
            # transaction id): start again on a clean connection.
            self.close()
            if (task := asyncio.current_task()) is not None and task.cancelling():
                # pymodbus turns the cancellation of a request into an I/O error.
                raise asyncio.CancelledError from err
            raise MeterTimeoutError(f"no answer from {where}") from err
        except ModbusException as err:
            self.close()
            raise MeterResponseError(f"bad answer from {where}: {err}") from err
        if response.isError():
            code = response.exception_code
            if code in _GATEWAY_EXCEPTION_CODES:
                raise MeterTimeoutError(
                    f"the gateway {self.link.describe()} got no answer from unit {unit_id}"
                    f" (exception {code:#04x})"
                )
            raise MeterResponseError(
                f"{where} refused to read {block.count} registers at {block.address:#06x}"
                f" (exception {code:#04x})"
            )
        if len(response.registers) != block.count:
            raise MeterResponseError(
                f"{where} sent {len(response.registers)} registers instead of {block.count}"
            )
        return response.registers


class ModbusGatewayPool:
    """Hands out one shared gateway per link (same host and port, or same serial port)."""

    def __init__(
        self,
        *,
        reconnect_min_s: float = DEFAULT_RECONNECT_MIN_S,
        reconnect_max_s: float = DEFAULT_RECONNECT_MAX_S,
        clock: Clock = time.monotonic,
    ) -> None:
        """Start empty."""
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._clock = clock
        self._gateways: dict[ModbusLink, tuple[ModbusGateway, int]] = {}

    def acquire(self, link: ModbusLink) -> ModbusGateway:
        """Return the gateway for `link`; release it when done."""
        gateway, users = self._gateways.get(link) or (
            ModbusGateway(
                link,
                reconnect_min_s=self._reconnect_min_s,
                reconnect_max_s=self._reconnect_max_s,
                clock=self._clock,
            ),
            0,
        )
        self._gateways[link] = (gateway, users + 1)
        return gateway

    def release(self, gateway: ModbusGateway) -> None:
        """Give back a gateway; the last user closes its connection."""
        _, users = self._gateways[gateway.link]
        if users > 1:
            self._gateways[gateway.link] = (gateway, users - 1)
            return
        del self._gateways[gateway.link]
        gateway.close()


class _InvalidValueError(Exception):
    """A register holds the meter's "no value" marker, NaN or infinity."""


def decode_reading(
    register_map: RegisterMap,
    blocks: Sequence[RegisterBlock],
    registers: Sequence[Sequence[int]],
    timestamp: float,
) -> PhaseReading:
    """Turn the registers of `blocks` into a reading.

    An invalid current fails the reading; an invalid voltage, power or energy only leaves that
    quantity out (an import-only ABB B23 marks its export energy invalid forever).
    """

    def value(field: RegisterField) -> float:
        for block, block_registers in zip(blocks, registers, strict=True):
            offset = field.address - block.address
            if offset >= 0 and offset + field.count <= block.count:
                raw = ModbusClientMixin.convert_from_registers(
                    list(block_registers[offset : offset + field.count]),
                    data_type=field.data_type,
                    word_order=register_map.word_order,
                )
                break
        else:
            raise ValueError(f"no block holds register {field.address:#06x}")
        if not isinstance(raw, int | float):
            raise TypeError(f"register {field.address:#06x} does not hold a number")
        if field.invalid_raw is not None and raw == field.invalid_raw:
            raise _InvalidValueError(f"register {field.address:#06x} holds no valid value")
        if not math.isfinite(raw):
            raise _InvalidValueError(f"register {field.address:#06x} holds {raw}")
        return raw / field.divisor

    def phases(fields: PhaseFields) -> PhaseValues:
        l1, l2, l3 = (value(field) for field in fields)
        return (l1, l2, l3)

    def optional_phases(fields: PhaseFields | None) -> PhaseValues | None:
        try:
            return None if fields is None else phases(fields)
        except _InvalidValueError:
            return None

    def optional_value(field: RegisterField | None) -> float | None:
        try:
            return None if field is None else value(field)
        except _InvalidValueError:
            return None

    try:
        current = phases(register_map.current_a)
    except _InvalidValueError as err:
        raise MeterResponseError(str(err)) from None
    return PhaseReading(
        current_a=(abs(current[0]), abs(current[1]), abs(current[2])),
        voltage_v=optional_phases(register_map.voltage_v),
        power_w=optional_phases(register_map.power_w),
        energy_import_kwh=optional_value(register_map.energy_import_kwh),
        energy_export_kwh=optional_value(register_map.energy_export_kwh),
        timestamp=timestamp,
    )


class ModbusMeter(MeterSource):
    """A Modbus meter polled at a fixed interval."""

    def __init__(
        self,
        meter_id: str,
        *,
        link: ModbusLink,
        unit_id: int,
        model: MeterModel,
        pool: ModbusGatewayPool | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        timeout_s: float = DEFAULT_MODBUS_TIMEOUT_S,
        clock: Clock = time.monotonic,
    ) -> None:
        """Describe the meter; `pool` shares gateways between meters (one per site)."""
        super().__init__(meter_id, timeout_s=timeout_s, clock=clock)
        if not 0 <= unit_id <= 255:
            raise ValueError("unit_id must be 0..255")
        self.link = link
        self.unit_id = unit_id
        self.register_map = REGISTER_MAPS[model]
        self.poll_interval_s = poll_interval_s
        self._blocks = self.register_map.blocks()
        self._pool = pool or ModbusGatewayPool(clock=clock)
        self._gateway: ModbusGateway | None = None
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        """Model, link and unit id."""
        return f"{self.register_map.name} at {self.link.describe()} unit {self.unit_id}"

    async def start(self) -> None:
        """Start polling."""
        await super().start()
        self._gateway = self._pool.acquire(self.link)
        self._task = asyncio.get_running_loop().create_task(
            self._poll_forever(), name=f"ev_load_balancer meter {self.meter_id}"
        )

    async def stop(self) -> None:
        """Stop polling and give the gateway back."""
        if self._task is not None:
            self._task.cancel()
            # wait() does not raise the task's cancellation, only stop()'s own.
            await asyncio.wait((self._task,))
            self._task = None
        if self._gateway is not None:
            self._pool.release(self._gateway)
            self._gateway = None
        await super().stop()

    async def async_poll(self) -> PhaseReading | None:
        """Read the meter once: publish the reading, or note the fault and return None."""
        if self._gateway is None:
            raise RuntimeError("start() the meter first")
        try:
            registers = await self._gateway.read(self.unit_id, self.register_map.kind, self._blocks)
            reading = decode_reading(self.register_map, self._blocks, registers, self._clock())
        except MeterError as err:
            self._note_fault(str(err))
            return None
        self._publish(reading)
        return reading

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        failing = False
        while True:
            started = loop.time()
            try:
                await self.async_poll()
            except Exception as err:
                # Keep polling: the source goes stale (and unhealthy) if this repeats. The
                # traceback is logged once, not every poll, until a poll gets through.
                if not failing:
                    _LOGGER.exception("Unexpected error reading meter %s", self.meter_id)
                failing = True
                self._note_fault(f"unexpected error: {err!r}")
            else:
                failing = False
            await asyncio.sleep(max(0.0, started + self.poll_interval_s - loop.time()))


async def test_connection(link: ModbusLink, *, unit_id: int, model: MeterModel) -> PhaseReading:
    """Reach the meter, read its register set once, and return what it read.

    Raises `MeterConnectionError`, `MeterTimeoutError` or `MeterResponseError` (the last
    also when the values cannot come from the chosen model: wrong model or unit id).
    """
    register_map = REGISTER_MAPS[model]
    blocks = register_map.blocks()
    gateway = ModbusGateway(link)
    try:
        registers = await gateway.read(unit_id, register_map.kind, blocks)
    finally:
        gateway.close()
    reading = decode_reading(register_map, blocks, registers, time.monotonic())
    _check_plausible(register_map, reading)
    return reading


def _check_plausible(register_map: RegisterMap, reading: PhaseReading) -> None:
    low, high = _PLAUSIBLE_VOLTAGE_V
    if reading.voltage_v is not None and not any(low <= v <= high for v in reading.voltage_v):
        raise MeterResponseError(
            f"voltages {reading.voltage_v} are not those of a {register_map.name};"
            " check the model and unit id"
        )
    if any(i > _PLAUSIBLE_CURRENT_A for i in reading.current_a):
        raise MeterResponseError(
            f"currents {reading.current_a} are not those of a {register_map.name};"
            " check the model and unit id"
        )
