"""Tests for the site config flow and the charger, group and meter subentry flows."""

from pathlib import Path
import socket
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_load_balancer.const import (
    CONF_CERTFILE,
    CONF_KEYFILE,
    CONF_METER,
    CONF_OCPP_PORT,
    CONF_UNKNOWN_CHARGERS,
    DOMAIN,
    SITE,
)
from custom_components.ev_load_balancer.meters import REGISTER_MAPS, MeterModel, PhaseReading
from custom_components.ev_load_balancer.site_layout import controller_settings
from demo.meter import SimMeter

from .conftest import free_port, site_data
from .meters.conftest import GatewayFactory, modbus_gateway  # noqa: F401

SITE_INPUT: dict[str, Any] = {
    "name": "Garage",
    "grid": "TN",
    "phases": "3",
    "voltage_v": 230,
    "fuse_a": 25,
    "margin_a": 2,
    "reserve_a": 0,
    "failsafe_a": 6,
}
SENSORS = ["sensor.l1", "sensor.l2", "sensor.l3"]


async def _to_meter_menu(hass: HomeAssistant, port: int) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE_INPUT)
    assert result["step_id"] == "ocpp"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_OCPP_PORT: port, CONF_UNKNOWN_CHARGERS: "pending"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "meter"
    return result["flow_id"]


@pytest.mark.usefixtures("socket_enabled")
async def test_site_with_sensor_meter(hass: HomeAssistant) -> None:
    port = free_port()
    flow_id = await _to_meter_menu(hass, port)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "sensors"})
    assert result["step_id"] == "sensors"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"current_entities": SENSORS, "includes_chargers": True}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Garage"
    assert result["data"] == site_data(
        port,
        meter={
            "meter_type": "sensors",
            "current_entities": SENSORS,
            "power_entities": [],
            "voltage_entities": [],
            "includes_chargers": True,
        },
    )


@pytest.mark.usefixtures("socket_enabled")
async def test_site_measured_by_its_chargers(hass: HomeAssistant) -> None:
    port = free_port()
    flow_id = await _to_meter_menu(hass, port)
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "chargers"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == site_data(port)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"failsafe_a": 32}, {"failsafe_a": "failsafe_above_fuse"}),
        ({"margin_a": 20, "reserve_a": 5}, {"margin_a": "margin_too_large"}),
    ],
)
async def test_site_values_checked(
    hass: HomeAssistant, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, **changes}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors


@pytest.mark.parametrize(
    ("sensors", "errors"),
    [
        ({"current_entities": SENSORS[:2]}, {"current_entities": "sensors_count"}),
        ({"current_entities": SENSORS, "power_entities": SENSORS}, {"base": "sensors_mixed"}),
        ({}, {"base": "sensors_missing"}),
        ({"power_entities": SENSORS[:1]}, {"power_entities": "sensors_count"}),
        (
            {"power_entities": SENSORS, "voltage_entities": SENSORS[:1]},
            {"voltage_entities": "sensors_count"},
        ),
    ],
)
@pytest.mark.usefixtures("socket_enabled")
async def test_sensor_meter_checked(
    hass: HomeAssistant, sensors: dict[str, Any], errors: dict[str, str]
) -> None:
    flow_id = await _to_meter_menu(hass, free_port())
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "sensors"})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**sensors, "includes_chargers": True}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors


@pytest.mark.usefixtures("socket_enabled")
async def test_power_and_voltage_sensors_accepted(hass: HomeAssistant) -> None:
    flow_id = await _to_meter_menu(hass, free_port())
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "sensors"})
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {"power_entities": SENSORS, "voltage_entities": SENSORS, "includes_chargers": False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_METER]["power_entities"] == SENSORS
    assert result["data"][CONF_METER]["includes_chargers"] is False


@pytest.mark.usefixtures("socket_enabled")
async def test_port_in_use_is_refused_then_recovers(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE_INPUT)
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_OCPP_PORT: port, CONF_UNKNOWN_CHARGERS: "reject"}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_OCPP_PORT: "port_in_use"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_OCPP_PORT: port, CONF_UNKNOWN_CHARGERS: "reject"}
    )
    assert result["type"] is FlowResultType.MENU


async def test_same_port_twice_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, data=site_data(9000)).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE_INPUT)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_OCPP_PORT: 9000, CONF_UNKNOWN_CHARGERS: "pending"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certfile), str(keyfile)


@pytest.mark.usefixtures("socket_enabled")
async def test_tls_files_checked(hass: HomeAssistant, tmp_path: Path) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    port = free_port()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    flow_id = result["flow_id"]
    await hass.config_entries.flow.async_configure(flow_id, SITE_INPUT)
    ocpp = {CONF_OCPP_PORT: port, CONF_UNKNOWN_CHARGERS: "pending"}
    for tls, error in (
        ({CONF_CERTFILE: certfile}, "tls_incomplete"),
        ({CONF_CERTFILE: certfile, CONF_KEYFILE: str(tmp_path / "no.pem")}, "tls_not_found"),
        ({CONF_CERTFILE: keyfile, CONF_KEYFILE: keyfile}, "tls_invalid"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, {**ocpp, **tls})
        assert result["errors"] == {CONF_CERTFILE: error}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**ocpp, CONF_CERTFILE: certfile, CONF_KEYFILE: keyfile}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "chargers"})
    assert result["data"][CONF_CERTFILE] == certfile


@pytest.mark.usefixtures("socket_enabled")
async def test_reconfigure_keeps_port_and_changes_fuse(hass: HomeAssistant) -> None:
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        entry = MockConfigEntry(domain=DOMAIN, title="Garage", data=site_data(port))
        entry.add_to_hass(hass)
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "reconfigure"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**SITE_INPUT, "fuse_a": 35}
        )
        # The site's own port is in use by the site itself: not an error.
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_OCPP_PORT: port, CONF_UNKNOWN_CHARGERS: "reject"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "chargers"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["fuse_a"] == 35
    assert entry.data[CONF_UNKNOWN_CHARGERS] == "reject"
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


def _entry_with(
    hass: HomeAssistant, *subentries: ConfigSubentryData, **changes: Any
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Garage", data=site_data(**changes), subentries_data=subentries
    )
    entry.add_to_hass(hass)
    return entry


CHARGER_INPUT: dict[str, Any] = {
    "name": "Drive",
    "charge_point_id": "CP-1",
    "connector_id": 1,
    "group": SITE,
    "phases": "3",
    "wiring": "L2L3L1",
    "min_a": 6,
    "max_a": 16,
    "priority": 1,
}


async def test_add_charger(hass: HomeAssistant) -> None:
    entry = _entry_with(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER_INPUT, "password": "s3cret"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry,) = entry.subentries.values()
    assert subentry.unique_id == "CP-1_1"
    assert subentry.title == "Drive"
    assert dict(subentry.data) == {
        "charge_point_id": "CP-1",
        "connector_id": 1,
        "group": SITE,
        "phases": 3,
        "wiring": "L2L3L1",
        "min_a": 6.0,
        "max_a": 16.0,
        "priority": 1,
        "password": "s3cret",
    }


@pytest.mark.parametrize(
    ("grid", "phases", "changes", "errors"),
    [
        ("TN", 3, {"min_a": 10, "max_a": 8}, {"min_a": "min_above_max"}),
        ("TN", 3, {"phases": "1", "wiring": "L1L2L3"}, {"wiring": "wiring_mismatch"}),
        ("IT", 3, {"phases": "3", "wiring": "L1L2"}, {"wiring": "wiring_mismatch"}),
        ("TN", 1, {}, {"phases": "phases_above_site"}),
    ],
)
async def test_charger_checked(
    hass: HomeAssistant, grid: str, phases: int, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    entry = _entry_with(hass, grid=grid, phases=phases)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER_INPUT, **changes}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors


async def test_it_single_phase_charger_on_a_pair(hass: HomeAssistant) -> None:
    entry = _entry_with(hass, grid="IT")
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER_INPUT, "phases": "1", "wiring": "L2L3"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


CHARGER_SUBENTRY = ConfigSubentryData(
    data={
        "charge_point_id": "CP-1",
        "connector_id": 1,
        "group": SITE,
        "phases": 3,
        "wiring": "L1L2L3",
        "min_a": 6.0,
        "max_a": 16.0,
        "priority": 0,
        "password": None,
    },
    subentry_type="charger",
    title="Drive",
    unique_id="CP-1_1",
)


async def test_same_charger_twice_refused(hass: HomeAssistant) -> None:
    entry = _entry_with(hass, CHARGER_SUBENTRY)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], CHARGER_INPUT)
    assert result["errors"] == {"charge_point_id": "charger_exists"}


async def test_reconfigure_charger(hass: HomeAssistant) -> None:
    entry = _entry_with(hass, CHARGER_SUBENTRY)
    (subentry_id,) = entry.subentries
    result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**CHARGER_INPUT, "max_a": 32, "name": "Drive left"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = entry.subentries[subentry_id]
    assert subentry.data["max_a"] == 32
    assert subentry.title == "Drive left"


async def test_groups_nest_without_cycles(hass: HomeAssistant) -> None:
    entry = _entry_with(hass)
    ids = []
    for name, parent in (("Garage", SITE), ("Row A", None)):
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, "group"), context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": name, "parent": parent or ids[-1], "limit_a": 20}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        ids.append(next(i for i, s in entry.subentries.items() if s.title == name))

    garage, row = ids
    assert entry.subentries[row].data == {"parent": garage, "limit_a": 20.0, "meter_id": None}
    result = await entry.start_subentry_reconfigure_flow(hass, garage)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Garage", "parent": row, "limit_a": 20}
    )
    assert result["errors"] == {"parent": "parent_cycle"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Garage", "parent": SITE, "limit_a": 40}
    )
    assert result["errors"] == {"limit_a": "limit_above_fuse"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Garage", "parent": SITE, "limit_a": 16}
    )
    assert result["type"] is FlowResultType.ABORT
    assert entry.subentries[garage].data["limit_a"] == 16


async def test_sensor_meter_subentry_and_reconfigure(hass: HomeAssistant) -> None:
    entry = _entry_with(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "meter"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "sensors"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Garage meter", "current_entities": SENSORS[:1]} | {"includes_chargers": True},
    )
    assert result["errors"] == {"current_entities": "sensors_count"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Garage meter", "current_entities": SENSORS, "includes_chargers": True},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (meter_id,) = entry.subentries
    assert entry.subentries[meter_id].data["current_entities"] == SENSORS

    result = await entry.start_subentry_reconfigure_flow(hass, meter_id)
    assert result["step_id"] == "sensors"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Garage meter", "current_entities": SENSORS[::-1], "includes_chargers": False},
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[meter_id].data["current_entities"] == SENSORS[::-1]
    assert entry.subentries[meter_id].data["includes_chargers"] is False


async def test_options_tune_the_loop(hass: HomeAssistant) -> None:
    entry = _entry_with(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    schema_keys = {str(key): key for key in result["data_schema"].schema}
    assert schema_keys["settle_s"].description == {"suggested_value": 15.0}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "settle_s": 5,
            "meter_timeout_s": 20,
            "rotation_minutes": 30,
            "max_changes_per_hour": 120,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    settings = controller_settings(entry.options)
    assert (
        settings.settle_s,
        settings.meter_timeout_s,
        settings.rotation_interval_s,
        settings.max_changes_per_hour,
    ) == (5.0, 20.0, 1800.0, 120)


def _modbus_input(port: int, **changes: Any) -> dict[str, Any]:
    return {
        "model": "eastron_sdm630",
        "framing": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "unit_id": 1,
        "includes_chargers": True,
    } | changes


async def test_site_with_modbus_meter_read_before_saving(
    hass: HomeAssistant,
    modbus_gateway: GatewayFactory,  # noqa: F811
) -> None:
    meter = SimMeter(unit_id=1, register_map=REGISTER_MAPS[MeterModel.EASTRON_SDM630])
    gateway = await modbus_gateway([meter])
    await meter.write_reading(
        PhaseReading(current_a=(4.0, 5.0, 6.0), voltage_v=(230.0, 231.0, 229.0), timestamp=0.0)
    )
    flow_id = await _to_meter_menu(hass, free_port())
    result = await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "modbus"})
    assert result["step_id"] == "modbus"

    result = await hass.config_entries.flow.async_configure(
        flow_id, _modbus_input(gateway.port, host="")
    )
    assert result["errors"] == {"host": "host_required"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, _modbus_input(gateway.port, framing="serial")
    )
    assert result["errors"] == {"device": "device_required"}
    # Nobody answers on a port that was free a moment ago.
    result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(free_port()))
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(flow_id, _modbus_input(gateway.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    assert result["data"][CONF_METER] == {
        "meter_type": "modbus",
        "model": "eastron_sdm630",
        "framing": "tcp",
        "host": "127.0.0.1",
        "port": gateway.port,
        "unit_id": 1,
        "includes_chargers": True,
    }
    assert meter.reads >= 1


@pytest.mark.usefixtures("socket_enabled")
async def test_serial_modbus_meter_keeps_device_and_baud_rate(hass: HomeAssistant) -> None:
    flow_id = await _to_meter_menu(hass, free_port())
    await hass.config_entries.flow.async_configure(flow_id, {"next_step_id": "modbus"})
    # No serial port on this machine: the flow says it cannot reach the meter.
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {k: v for k, v in _modbus_input(0).items() if k not in ("host", "port")}
        | {"framing": "serial", "device": "/dev/ttyUSB9", "baudrate": 19200},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_modbus_meter_subentry_and_reconfigure(
    hass: HomeAssistant,
    modbus_gateway: GatewayFactory,  # noqa: F811
) -> None:
    meter = SimMeter(unit_id=3, register_map=REGISTER_MAPS[MeterModel.ABB_B23_B24])
    gateway = await modbus_gateway([meter])
    await meter.write_reading(
        PhaseReading(current_a=(1.0, 2.0, 3.0), voltage_v=(230.0, 230.0, 230.0), timestamp=0.0)
    )
    entry = _entry_with(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "meter"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "modbus"}
    )
    assert result["step_id"] == "modbus"
    garage = {"name": "Garage meter"} | _modbus_input(gateway.port, model="abb_b23_b24", unit_id=3)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], garage | {"model": "eastron_sdm630"}
    )
    assert result["errors"] == {"base": "wrong_model"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], garage)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    (meter_id,) = entry.subentries
    assert entry.subentries[meter_id].title == "Garage meter"
    assert entry.subentries[meter_id].data["unit_id"] == 3

    result = await entry.start_subentry_reconfigure_flow(hass, meter_id)
    assert result["step_id"] == "modbus"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], garage | {"includes_chargers": False}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[meter_id].data["includes_chargers"] is False
