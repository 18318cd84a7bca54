"""Turn OCPP sampled values (1.6 and 2.0.1) into a connector's measurements."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
import math
from typing import Any

from .models import ConnectorState, PhaseValues

CURRENT_IMPORT = "Current.Import"
CURRENT_OFFERED = "Current.Offered"
POWER_ACTIVE_IMPORT = "Power.Active.Import"
ENERGY_ACTIVE_IMPORT_REGISTER = "Energy.Active.Import.Register"
# Most useful first: chargers with a short MeterValuesSampledData list keep the head.
WANTED_MEASURANDS = (
    CURRENT_IMPORT,
    CURRENT_OFFERED,
    ENERGY_ACTIVE_IMPORT_REGISTER,
    POWER_ACTIVE_IMPORT,
)

_PHASES = {"L1": "l1", "L1-N": "l1", "L2": "l2", "L2-N": "l2", "L3": "l3", "L3-N": "l3"}
_UNIT_SCALE = {"A": 1.0, "W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0}
_DEFAULT_UNITS = {
    CURRENT_IMPORT: "A",
    CURRENT_OFFERED: "A",
    POWER_ACTIVE_IMPORT: "W",
    ENERGY_ACTIVE_IMPORT_REGISTER: "Wh",
}
# Readings taken by the car or inside the charger's body say nothing about the outlet.
_IGNORED_LOCATIONS = frozenset({"EV", "Body"})


@dataclass(slots=True)
class _Sample:
    current: PhaseValues | None = None
    offered: list[float] = field(default_factory=list)
    power: PhaseValues = field(default_factory=PhaseValues)
    energy: PhaseValues = field(default_factory=PhaseValues)


def _value(sampled: Mapping[str, Any], measurand: str) -> float | None:
    """Return the value in A, W or Wh, or None when it cannot be used."""
    if sampled.get("format") == "SignedData":
        return None
    # 1.6 gives "unit"; 2.0.1 gives "unitOfMeasure" with a power-of-ten multiplier.
    unit_of_measure = sampled.get("unit_of_measure") or {}
    unit = sampled.get("unit") or unit_of_measure.get("unit") or _DEFAULT_UNITS[measurand]
    scale = _UNIT_SCALE.get(str(unit))
    try:
        value = float(sampled["value"]) * 10.0 ** int(unit_of_measure.get("multiplier", 0))
    except TypeError, ValueError, KeyError, OverflowError:
        return None
    if scale is None or not math.isfinite(value):
        return None
    return value * scale


def _total(values: PhaseValues) -> float | None:
    if values.unphased is not None:
        return values.unphased
    phases = [v for v in (values.l1, values.l2, values.l3) if v is not None]
    return sum(phases) if phases else None


def _read(entry: Mapping[str, Any]) -> _Sample:
    sample = _Sample()
    for sampled in entry.get("sampled_value") or ():
        measurand = sampled.get("measurand") or ENERGY_ACTIVE_IMPORT_REGISTER
        if measurand not in _DEFAULT_UNITS or sampled.get("location") in _IGNORED_LOCATIONS:
            continue
        if (value := _value(sampled, measurand)) is None:
            continue
        slot = _PHASES.get(sampled.get("phase") or "", "unphased")
        if measurand == CURRENT_OFFERED:
            sample.offered.append(value)
            continue
        if measurand == CURRENT_IMPORT:
            if sample.current is None:
                sample.current = PhaseValues()
            target = sample.current
        elif measurand == POWER_ACTIVE_IMPORT:
            target = sample.power
        else:
            target = sample.energy
        setattr(target, slot, value)
    return sample


def apply_meter_values(
    connector: ConnectorState, meter_values: Sequence[Mapping[str, Any]], received_at: datetime
) -> bool:
    """Merge the readings into the connector, oldest first; True when anything was read."""
    read = False
    for entry in meter_values:
        sample = _read(entry)
        if sample.current is not None:
            connector.current_import_a = sample.current
            read = True
        if sample.offered:
            connector.current_offered_a = max(sample.offered)
            read = True
        if (power := _total(sample.power)) is not None:
            connector.power_w = power
            read = True
        if (energy := _total(sample.energy)) is not None:
            connector.energy_wh = energy
            read = True
            if (transaction := connector.transaction) is not None:
                if transaction.meter_start_wh is None:
                    transaction.meter_start_wh = energy
                connector.session_energy_wh = max(0.0, energy - transaction.meter_start_wh)
    if read:
        connector.meter_updated_at = received_at
    return read
