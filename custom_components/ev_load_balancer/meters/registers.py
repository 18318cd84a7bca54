"""Register maps of the supported Modbus meters: data, one map per model.

Addresses are protocol addresses (0-based), as sent on the wire: Eastron's "30007" is 0x0006.
Each field is decoded by pymodbus (`convert_from_registers`) and then divided by `divisor`;
an integer divisor keeps decimal scales exact (1234 / 100 is exactly 12.34).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from pymodbus.client.mixin import ModbusClientMixin

DataType = ModbusClientMixin.DATATYPE

# Fields closer than this are read in one request (fewer round trips on slow RS485 buses);
# farther apart, the unused registers in between would cost more than a second request.
_MAX_GAP_REGISTERS = 8
_MAX_BLOCK_REGISTERS = 100


class MeterModel(StrEnum):
    """A supported Modbus meter model."""

    EASTRON_SDM630 = "eastron_sdm630"
    EASTRON_SDM72D_M_V2 = "eastron_sdm72d_m_v2"
    ABB_B23_B24 = "abb_b23_b24"
    CARLO_GAVAZZI_EM24 = "carlo_gavazzi_em24"
    CARLO_GAVAZZI_EM340 = "carlo_gavazzi_em340"


class RegisterKind(StrEnum):
    """Which Modbus table holds the values."""

    INPUT = "input"
    """Function code 0x04."""
    HOLDING = "holding"
    """Function code 0x03."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterField:
    """One value: where it is, how it is encoded, and its "not available" marker if any."""

    address: int
    data_type: ModbusClientMixin.DATATYPE
    divisor: int = 1
    invalid_raw: int | None = None
    """The raw integer the meter sends when it has no valid value."""

    @property
    def count(self) -> int:
        """How many 16-bit registers the value takes."""
        return self.data_type.value[1]


type PhaseFields = tuple[RegisterField, RegisterField, RegisterField]


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterBlock:
    """A contiguous range read with one request."""

    address: int
    count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterMap:
    """How to read one meter model: current per line (required) and what else it has."""

    model: MeterModel
    name: str
    kind: RegisterKind
    word_order: Literal["big", "little"]
    """"big": the high word comes first; "little": the low word comes first."""
    current_a: PhaseFields
    voltage_v: PhaseFields | None = None
    power_w: PhaseFields | None = None
    energy_import_kwh: RegisterField | None = None
    energy_export_kwh: RegisterField | None = None

    def fields(self) -> tuple[RegisterField, ...]:
        """Every field the map reads."""
        fields: list[RegisterField] = [*self.current_a]
        for phases in (self.voltage_v, self.power_w):
            if phases is not None:
                fields.extend(phases)
        fields.extend(f for f in (self.energy_import_kwh, self.energy_export_kwh) if f is not None)
        return tuple(fields)

    def blocks(self) -> tuple[RegisterBlock, ...]:
        """List the requests that read every field, nearby fields merged into one."""
        spans = sorted((f.address, f.address + f.count) for f in self.fields())
        merged: list[list[int]] = []
        for start, end in spans:
            if (
                merged
                and start - merged[-1][1] <= _MAX_GAP_REGISTERS
                and max(end, merged[-1][1]) - merged[-1][0] <= _MAX_BLOCK_REGISTERS
            ):
                merged[-1][1] = max(end, merged[-1][1])
            else:
                merged.append([start, end])
        return tuple(RegisterBlock(address=start, count=end - start) for start, end in merged)


def _phases(
    addresses: tuple[int, int, int],
    data_type: ModbusClientMixin.DATATYPE,
    divisor: int = 1,
    invalid_raw: int | None = None,
) -> PhaseFields:
    l1, l2, l3 = (
        RegisterField(address=a, data_type=data_type, divisor=divisor, invalid_raw=invalid_raw)
        for a in addresses
    )
    return (l1, l2, l3)


# Eastron "SDM630 Modbus Protocol" (SDM630-Modbus V2 meters), input registers,
# IEEE 754 float32, high word first: 30001/3/5 L-N volts, 30007/9/11 current,
# 30013/15/17 active power, 30073 total import kWh, 30075 total export kWh.
SDM630 = RegisterMap(
    model=MeterModel.EASTRON_SDM630,
    name="Eastron SDM630",
    kind=RegisterKind.INPUT,
    word_order="big",
    voltage_v=_phases((0x0000, 0x0002, 0x0004), DataType.FLOAT32),
    current_a=_phases((0x0006, 0x0008, 0x000A), DataType.FLOAT32),
    power_w=_phases((0x000C, 0x000E, 0x0010), DataType.FLOAT32),
    energy_import_kwh=RegisterField(address=0x0048, data_type=DataType.FLOAT32),
    energy_export_kwh=RegisterField(address=0x004A, data_type=DataType.FLOAT32),
)

# Eastron "SDM72D-M-2 User Manual" (SDM72D-M v2, Modbus protocol section), input registers,
# float32 high word first, the same addresses as the SDM630 for what both have:
# 30001/3/5 volts, 30007/9/11 current, 30013/15/17 power, 30073 import kWh, 30075 export kWh.
SDM72D_M_V2 = RegisterMap(
    model=MeterModel.EASTRON_SDM72D_M_V2,
    name="Eastron SDM72D-M v2",
    kind=RegisterKind.INPUT,
    word_order="big",
    voltage_v=_phases((0x0000, 0x0002, 0x0004), DataType.FLOAT32),
    current_a=_phases((0x0006, 0x0008, 0x000A), DataType.FLOAT32),
    power_w=_phases((0x000C, 0x000E, 0x0010), DataType.FLOAT32),
    energy_import_kwh=RegisterField(address=0x0048, data_type=DataType.FLOAT32),
    energy_export_kwh=RegisterField(address=0x004A, data_type=DataType.FLOAT32),
)

# ABB "B23/B24 User Manual" (2CMC485003M0201), Modbus register tables: holding registers, high word first. 0x5B00/02/04 voltage L-N U32 0.1 V; 0x5B0C/0E/10 current
# U32 0.01 A; 0x5B16/18/1A active power S32 0.01 W; 0x5000 / 0x5004 active energy import /
# export U64 0.01 kWh. A value the meter does not have reads as the type's maximum:
# all ones for unsigned types, 0x7FFF... for signed ones.
_ABB_INVALID_U32 = 0xFFFF_FFFF
_ABB_INVALID_S32 = 0x7FFF_FFFF
_ABB_INVALID_U64 = 0xFFFF_FFFF_FFFF_FFFF
ABB_B23_B24 = RegisterMap(
    model=MeterModel.ABB_B23_B24,
    name="ABB B23/B24",
    kind=RegisterKind.HOLDING,
    word_order="big",
    voltage_v=_phases((0x5B00, 0x5B02, 0x5B04), DataType.UINT32, 10, _ABB_INVALID_U32),
    current_a=_phases((0x5B0C, 0x5B0E, 0x5B10), DataType.UINT32, 100, _ABB_INVALID_U32),
    power_w=_phases((0x5B16, 0x5B18, 0x5B1A), DataType.INT32, 100, _ABB_INVALID_S32),
    energy_import_kwh=RegisterField(
        address=0x5000, data_type=DataType.UINT64, divisor=100, invalid_raw=_ABB_INVALID_U64
    ),
    energy_export_kwh=RegisterField(
        address=0x5004, data_type=DataType.UINT64, divisor=100, invalid_raw=_ABB_INVALID_U64
    ),
)

# Carlo Gavazzi "EM24-DIN Communication Protocol", table 2.3-1 (the RS485 and Ethernet
# models alike), input registers, INT32 with the low word first: 0x0000/02/04 V L-N 0.1 V,
# 0x000C/0E/10 A 0.001 A, 0x0012/14/16 W 0.1 W, 0x0034 kWh(+) TOT 0.1 kWh, 0x004E kWh(-) TOT
# 0.1 kWh (0x0040/42/44 are the per-line kWh(+) meters, not totals).
EM24 = RegisterMap(
    model=MeterModel.CARLO_GAVAZZI_EM24,
    name="Carlo Gavazzi EM24",
    kind=RegisterKind.INPUT,
    word_order="little",
    voltage_v=_phases((0x0000, 0x0002, 0x0004), DataType.INT32, 10),
    current_a=_phases((0x000C, 0x000E, 0x0010), DataType.INT32, 1000),
    power_w=_phases((0x0012, 0x0014, 0x0016), DataType.INT32, 10),
    energy_import_kwh=RegisterField(address=0x0034, data_type=DataType.INT32, divisor=10),
    energy_export_kwh=RegisterField(address=0x004E, data_type=DataType.INT32, divisor=10),
)

# Carlo Gavazzi "EM330/EM340/ET330/ET340 Communication protocol", input registers, INT32 with
# the low word first, laid out as the EM24: 0x0000/02/04 V L-N 0.1 V, 0x000C/0E/10 A
# 0.001 A, 0x0012/14/16 W 0.1 W, 0x0034 kWh(+) TOT 0.1 kWh, 0x004E kWh(-) TOT 0.1 kWh.
EM340 = replace(EM24, model=MeterModel.CARLO_GAVAZZI_EM340, name="Carlo Gavazzi EM340")

REGISTER_MAPS: dict[MeterModel, RegisterMap] = {
    register_map.model: register_map
    for register_map in (SDM630, SDM72D_M_V2, ABB_B23_B24, EM24, EM340)
}
