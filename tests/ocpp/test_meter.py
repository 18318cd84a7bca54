"""Sampled values of both versions into a connector's measurements."""

from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.ev_load_balancer.ocpp import ConnectorState, PhaseValues, Transaction
from custom_components.ev_load_balancer.ocpp.meter import apply_meter_values

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _read(*sampled: dict[str, Any]) -> ConnectorState:
    connector = ConnectorState(connector_id=1)
    apply_meter_values(connector, [{"timestamp": "t", "sampled_value": list(sampled)}], NOW)
    return connector


@pytest.mark.parametrize(
    ("sampled", "energy_wh"),
    [
        ({"value": "1234"}, 1234.0),  # 1.6 default: Energy.Active.Import.Register in Wh
        ({"value": "1.5", "unit": "kWh"}, 1500.0),
        ({"value": 15, "unit_of_measure": {"unit": "Wh", "multiplier": 2}}, 1500.0),
        ({"value": 1.5, "unit_of_measure": {"unit": "kWh"}}, 1500.0),
    ],
)
def test_energy_units(sampled: dict[str, Any], energy_wh: float) -> None:
    assert _read(sampled).energy_wh == energy_wh


def test_phases_power_and_offered() -> None:
    connector = _read(
        {"value": "10.5", "measurand": "Current.Import", "phase": "L1-N"},
        {"value": "10.0", "measurand": "Current.Import", "phase": "L2"},
        {"value": "16", "measurand": "Current.Offered"},
        {"value": "2.3", "measurand": "Power.Active.Import", "phase": "L1", "unit": "kW"},
        {"value": "2.2", "measurand": "Power.Active.Import", "phase": "L2", "unit": "kW"},
    )

    assert connector.current_import_a == PhaseValues(l1=10.5, l2=10.0)
    assert connector.current_offered_a == 16.0
    assert connector.power_w == pytest.approx(4500.0)
    assert connector.meter_updated_at == NOW


@pytest.mark.parametrize(
    "sampled",
    [
        {"value": "abc", "measurand": "Current.Import"},
        {"value": "nan", "measurand": "Current.Import"},
        {"value": "10", "measurand": "Current.Import", "unit": "furlong"},
        {"value": "10", "measurand": "Current.Import", "location": "EV"},
        {"value": "10", "measurand": "Current.Import", "format": "SignedData"},
        {"value": "10", "measurand": "Temperature"},
        {"measurand": "Current.Import"},
    ],
    ids=[
        "not a number",
        "nan",
        "unknown unit",
        "car side",
        "signed",
        "other measurand",
        "no value",
    ],
)
def test_unusable_values_are_skipped(sampled: dict[str, Any]) -> None:
    connector = _read(sampled)

    assert connector.current_import_a == PhaseValues()
    assert connector.meter_updated_at is None


def test_session_energy_from_first_reading_when_start_unknown() -> None:
    connector = ConnectorState(connector_id=1, transaction=Transaction(transaction_id="T"))

    for energy in ("5000", "5750"):
        apply_meter_values(connector, [{"sampled_value": [{"value": energy}]}], NOW)

    assert connector.session_energy_wh == 750.0
