"""OCPP 2.0.1 against a simulated charging station."""

from datetime import timedelta
import json

from ocpp.v201 import call

from custom_components.ev_load_balancer.ocpp import (
    ChargerConfig,
    EventType,
    LimitResult,
    OcppVersion,
    ProfilePurpose,
)
from demo.chargepoint import Car

from .conftest import START, Harness


async def test_boot_reads_and_sets_device_model(harness: Harness) -> None:
    await harness.start(meter_sample_interval_s=10)
    station = await harness.booted201("CS1")

    state = harness.state("CS1")
    assert state.ocpp_version is OcppVersion.V201
    assert (state.vendor, state.model, state.firmware_version) == ("Sim", "Sim201", "2.0")
    assert station.sim.now == START
    caps = state.capabilities
    assert (caps.smart_charging, caps.max_stack_level, caps.rate_units) == (True, 8, {"A", "W"})
    assert station.device_model["SampledDataCtrlr", "TxUpdatedMeasurands"] == (
        "Current.Import,Current.Offered,Energy.Active.Import.Register,Power.Active.Import"
    )
    assert station.device_model["SampledDataCtrlr", "TxUpdatedInterval"] == "10"
    (base,) = station.sim.profiles.values()
    assert (base.connector_id, base.purpose, base.stack_level, base.limit) == (
        0,
        "TxDefaultProfile",
        0,
        6.0,
    )


async def test_transaction_events_and_meter_values(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1", car=Car(phases=3, max_a=16.0))

    await station.status(1, "Occupied")
    started = await station.transaction_event(1, "Started")
    await station.transaction_event(1, "Updated", charging_state="SuspendedEV")
    await station.meter_values(1)
    evse = harness.state("CS1").connectors[1]

    assert started.id_token_info["status"] == "Accepted"
    assert evse.status == "Occupied"
    assert evse.charging_state == "SuspendedEV"
    assert evse.transaction is not None
    assert evse.transaction.transaction_id == "TX1"
    assert evse.current_offered_a == 6.0
    assert evse.power_w == 3 * 6.0 * 230
    assert evse.session_energy_wh is not None
    assert evse.session_energy_wh > 0

    await station.transaction_event(1, "Ended")

    assert evse.transaction is None


async def test_limit_per_evse_observed_in_meter_values(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1", connectors=2, car=Car(max_a=32.0))
    await station.transaction_event(1, "Started")
    assert harness.central is not None

    first = await harness.central.apply_limit("CS1", 1, 11.0)
    second = await harness.central.apply_limit("CS1", 2, 7.0)
    offered_1 = await station.meter_values(1)
    offered_2 = await station.meter_values(2)

    assert first.purpose is ProfilePurpose.TX_PROFILE
    assert second.purpose is ProfilePurpose.TX_DEFAULT_PROFILE
    assert station.sim.profiles[201].transaction_id == "TX1"
    assert station.sim.profiles[201].valid_to == START + timedelta(minutes=5)
    assert (offered_1, offered_2) == (11.0, 7.0)
    assert harness.state("CS1").connectors[1].current_import_a.l1 == 11.0


async def test_station_max_profile_only_on_evse_0_as_absolute(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1")
    assert harness.central is not None

    outcome = await harness.central.apply_limit("CS1", 0, 20.0)

    assert outcome.result is LimitResult.ACCEPTED
    profile = station.sim.profiles[101]
    assert (profile.connector_id, profile.purpose, profile.kind) == (
        0,
        "ChargingStationMaxProfile",
        "Absolute",
    )
    assert profile.valid_to is None


async def test_rejected_tx_profile_falls_back(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1", rejected_purposes={"TxProfile"})
    await station.transaction_event(1, "Started")
    assert harness.central is not None

    outcome = await harness.central.apply_limit("CS1", 1, 9.0)

    assert outcome.purpose is ProfilePurpose.TX_DEFAULT_PROFILE
    assert await station.meter_values(1) == 9.0


async def test_notify_report_updates_capabilities(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1")

    await station.call(
        call.NotifyReport(
            request_id=1,
            generated_at="2026-11-22T12:00:00Z",
            seq_no=0,
            report_data=[
                {
                    "component": {"name": "SmartChargingCtrlr"},
                    "variable": {"name": "RateUnit"},
                    "variable_attribute": [{"type": "Actual", "value": "W"}],
                }
            ],
        ),
        suppress=False,
    )

    assert harness.state("CS1").capabilities.rate_units == {"W"}
    assert harness.events[-1].type is EventType.CAPABILITIES


async def test_heartbeat_and_data_transfer(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1")

    heartbeat = await station.call(call.Heartbeat(), suppress=False)
    transfer = await station.call(call.DataTransfer(vendor_id="com.example"), suppress=False)

    assert heartbeat.current_time == "2026-11-22T12:00:00Z"
    assert transfer.status == "UnknownVendorId"


async def test_reboot_restores_profiles(harness: Harness) -> None:
    await harness.start()
    station = await harness.booted201("CS1")
    assert harness.central is not None
    await harness.central.apply_limit("CS1", 1, 13.0)
    await harness.central.apply_limit("CS1", 0, 24.0)
    await station._connection.close()
    await harness.until(lambda: not harness.state("CS1").connected)

    rebooted = await harness.charger201("CS1")
    await rebooted.boot()
    await harness.until(lambda: {100, 101, 201} <= rebooted.sim.profiles.keys())

    assert rebooted.sim.profiles[201].limit == 13.0
    assert rebooted.sim.profiles[101].purpose == "ChargingStationMaxProfile"
    assert "GetVariables" not in rebooted.sim.requests


async def test_malformed_frame_gets_format_violation(harness: Harness) -> None:
    harness.configs["CS1"] = ChargerConfig()
    await harness.start()
    ws = await harness.open("CS1", "ocpp2.0.1")

    await ws.send("{not json")

    assert json.loads(await ws.recv())[:3] == [4, "-1", "FormatViolation"]
