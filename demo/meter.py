"""A simulated Modbus energy meter: a pymodbus server holding a meter's real register map.

Used by the tests, the demo site and the live benchmarks; each unit on the bus can be made to
answer with an exception or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
import functools

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from custom_components.ev_load_balancer.meters import PhaseReading, RegisterMap
from custom_components.ev_load_balancer.meters.registers import RegisterField, RegisterKind

_FC_READ_HOLDING = 3
_FC_READ_INPUT = 4


@dataclass
class SimMeter:
    """One unit on the fake bus: its register map, and the fault it should show."""

    unit_id: int
    register_map: RegisterMap
    exception: ExcCodes | None = None
    silent: bool = False
    reads: int = 0
    read_seen: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    server: ModbusTcpServer | None = field(default=None, repr=False)

    @property
    def function_code(self) -> int:
        return _FC_READ_INPUT if self.register_map.kind is RegisterKind.INPUT else _FC_READ_HOLDING

    def sim_device(self) -> SimDevice:
        """The device with every block of the map defined, the rest left invalid."""
        # Real meters define the registers between the ones we read, so one range covers all.
        spans = self.register_map.blocks()
        first, last = spans[0].address, spans[-1].address + spans[-1].count
        blocks = [SimData(address=first, count=last - first, values=0, datatype=DataType.REGISTERS)]
        # An unused table holds one register, so reads of the map's table in it fail.
        unused = [SimData(address=0xFFF0, values=0, datatype=DataType.REGISTERS)]
        holding, inputs = (
            (unused, blocks) if self.register_map.kind is RegisterKind.INPUT else (blocks, unused)
        )

        def bits() -> list[SimData]:
            return [SimData(address=0, values=False, datatype=DataType.BITS)]

        return SimDevice(
            id=self.unit_id,
            simdata=(bits(), bits(), holding, inputs),
            action=functools.partial(_action, self),
        )

    async def write_raw(self, register_field: RegisterField, raw: float) -> None:
        """Store a raw value, encoded by pymodbus as the meter would."""
        registers = ModbusClientMixin.convert_to_registers(
            raw, register_field.data_type, word_order=self.register_map.word_order
        )
        if self.server is None:
            raise RuntimeError("the meter is not served yet")
        await self.server.async_setValues(
            self.unit_id, self.function_code, register_field.address, registers
        )

    async def write_value(self, register_field: RegisterField, value: float) -> None:
        """Store a value in the field's unit (amperes, volts, watts, kWh)."""
        raw = value * register_field.divisor
        is_float = register_field.data_type is ModbusClientMixin.DATATYPE.FLOAT32
        await self.write_raw(register_field, raw if is_float else round(raw))

    async def write_reading(self, reading: PhaseReading) -> None:
        """Store everything the map has from `reading`."""
        register_map = self.register_map
        values: list[tuple[RegisterField, float]] = list(
            zip(register_map.current_a, reading.current_a, strict=True)
        )
        if register_map.voltage_v is not None and reading.voltage_v is not None:
            values += zip(register_map.voltage_v, reading.voltage_v, strict=True)
        if register_map.power_w is not None and reading.power_w is not None:
            values += zip(register_map.power_w, reading.power_w, strict=True)
        for register_field, value in (
            (register_map.energy_import_kwh, reading.energy_import_kwh),
            (register_map.energy_export_kwh, reading.energy_export_kwh),
        ):
            if register_field is not None and value is not None:
                values.append((register_field, value))
        for register_field, value in values:
            await self.write_value(register_field, value)


async def _action(
    meter: SimMeter,
    _function_code: int,
    _start_address: int,
    _address: int,
    _count: int,
    _registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    if set_values is not None:
        return None
    meter.reads += 1
    meter.read_seen.set()
    if meter.silent:
        # With ignore_missing_devices the server drops the request: the client times out.
        raise NoSuchIdException(f"unit {meter.unit_id} is silent")
    return meter.exception


@dataclass
class MeterGateway:
    """A running server and the meters behind it."""

    server: ModbusTcpServer
    port: int
    meters: Mapping[int, SimMeter]

    @property
    def connections(self) -> int:
        """Clients connected right now."""
        return len(self.server.active_connections)


async def start_gateway(
    meters: list[SimMeter],
    *,
    framer: FramerType = FramerType.SOCKET,
    host: str = "127.0.0.1",
    port: int = 0,
) -> MeterGateway:
    """Serve the meters on one port (0: a free one); stop with `gateway.server.shutdown()`."""
    server = ModbusTcpServer(
        [meter.sim_device() for meter in meters],
        framer=framer,
        address=(host, port),
        ignore_missing_devices=True,
    )
    await server.serve_forever(background=True)
    for meter in meters:
        meter.server = server
    port = server.transport.sockets[0].getsockname()[1]
    return MeterGateway(server=server, port=port, meters={m.unit_id: m for m in meters})
