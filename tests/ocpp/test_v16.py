"""OCPP 1.6J against a simulated charge point: boot, session, limits."""

from datetime import timedelta

from ocpp.v16 import call
import pytest

from custom_components.ev_load_balancer.ocpp import (
    ChargerConfig,
    EventType,
    LimitResult,
    OcppVersion,
    ProfilePurpose,
)
from demo.chargepoint import Car

from .conftest import START, Harness


async def test_boot_sets_clock_reads_configuration_and_writes_failsafe(harness: Harness) -> None:
    await harness.start(failsafe_current_a=6.0, meter_sample_interval_s=10)
    charger = await harness.booted16("CP1")

    state = harness.state("CP1")
    assert state.connected
    assert state.ocpp_version is OcppVersion.V16
    assert (state.vendor, state.model, state.firmware_version) == ("Sim", "Sim16", "1.0")
    # The charger's clock is ours: its expiries mean what we meant.
    assert charger.sim.now == START
    assert state.capabilities.smart_charging is True
    assert state.capabilities.max_stack_level == 8
    assert state.capabilities.rate_units == {"A", "W"}
    assert charger.config["MeterValuesSampledData"] == (
        "Current.Import,Current.Offered,Energy.Active.Import.Register,Power.Active.Import"
    )
    assert charger.config["MeterValueSampleInterval"] == "10"
    (base,) = charger.sim.profiles.values()
    assert (base.connector_id, base.purpose, base.stack_level) == (0, "TxDefaultProfile", 0)
    assert (base.limit, base.unit, base.valid_to, base.duration) == (6.0, "A", None, None)
    assert state.failsafe.accepted
    assert [e.type for e in harness.events] == [
        EventType.CONNECTED,
        EventType.BOOTED,
        EventType.CAPABILITIES,
    ]


async def test_heartbeat_and_status(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1", connectors=2)

    result = await charger.call(call.Heartbeat(), suppress=False)
    await charger.status(2, "Preparing")

    assert result.current_time == "2026-11-22T12:00:00Z"
    assert harness.state("CP1").connectors[2].status == "Preparing"
    assert harness.events[-1].type is EventType.STATUS
    assert harness.events[-1].connector_id == 2


async def test_session_with_meter_values(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1", car=Car(phases=1, max_a=13.0))

    started = await charger.start_transaction(1, "TAG1")
    await charger.meter_values(1)
    connector = harness.state("CP1").connectors[1]

    assert started.id_tag_info["status"] == "Accepted"
    assert connector.transaction is not None
    assert connector.transaction.transaction_id == str(started.transaction_id)
    assert connector.transaction.meter_start_wh == 1000.0
    # The base profile offers the failsafe 6 A; the one-phase car takes it on L1.
    assert connector.current_offered_a == 6.0
    assert (connector.current_import_a.l1, connector.current_import_a.l2) == (6.0, 0.0)
    assert connector.power_w == 1380.0
    assert connector.energy_wh == pytest.approx(1004.0, abs=1)
    assert connector.session_energy_wh == pytest.approx(4.0, abs=1)

    await charger.stop_transaction(1)

    assert connector.transaction is None
    assert EventType.TRANSACTION in {e.type for e in harness.events}


async def test_authorize_policy(harness: Harness) -> None:
    await harness.start(authorize=lambda cp_id, tag: tag == "GOOD")
    charger = await harness.booted16("CP1")

    good = await charger.call(call.Authorize(id_tag="GOOD"), suppress=False)
    bad = await charger.call(call.Authorize(id_tag="BAD"), suppress=False)

    assert good.id_tag_info["status"] == "Accepted"
    assert bad.id_tag_info["status"] == "Invalid"


async def test_data_transfer_is_answered(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")

    result = await charger.call(
        call.DataTransfer(vendor_id="com.example", message_id="x", data="{}"), suppress=False
    )

    assert result.status == "UnknownVendorId"


async def test_limit_applied_and_observed_in_next_meter_values(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1", car=Car(phases=3, max_a=32.0))
    await charger.start_transaction(1)
    assert harness.central is not None

    outcome = await harness.central.apply_limit("CP1", 1, 10.07, phases=3)
    await charger.meter_values(1)

    assert outcome.result is LimitResult.ACCEPTED
    assert outcome.sent
    assert outcome.purpose is ProfilePurpose.TX_PROFILE
    profile = charger.sim.profiles[201]
    assert (profile.purpose, profile.stack_level, profile.limit) == ("TxProfile", 1, 10.0)
    assert profile.number_phases == 3
    assert profile.valid_to == START + timedelta(minutes=5)
    assert profile.duration == 300
    connector = harness.state("CP1").connectors[1]
    assert connector.current_offered_a == 10.0
    assert connector.current_import_a.l3 == 10.0
    assert connector.limit.sent_a == 10.0
    assert connector.limit.accepted


@pytest.mark.parametrize(
    ("second_a", "sent"),
    [
        (10.0, False),  # unchanged
        (10.4, False),  # a small increase is not worth a write
        (10.5, True),  # a meaningful increase
        (9.9, True),  # any decrease goes out at once
        (0.0, True),  # pause
    ],
)
async def test_limit_sent_only_when_it_changes_meaningfully(
    harness: Harness, second_a: float, sent: bool
) -> None:
    await harness.start(min_change_a=0.5)
    charger = await harness.booted16("CP1")
    await charger.start_transaction(1)
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 10.0)
    writes = len(charger.sim.profile_writes)

    outcome = await harness.central.apply_limit("CP1", 1, second_a)

    assert outcome.result is LimitResult.ACCEPTED
    assert outcome.sent is sent
    assert len(charger.sim.profile_writes) == writes + sent


async def test_lease_is_refreshed_after_half_of_it(harness: Harness) -> None:
    await harness.start(lease=timedelta(minutes=4))
    charger = await harness.booted16("CP1")
    await charger.start_transaction(1)
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)

    harness.clock.advance(minutes=1, seconds=59)
    early = await harness.central.apply_limit("CP1", 1, 16.0)
    harness.clock.advance(seconds=1)
    due = await harness.central.apply_limit("CP1", 1, 16.0)

    assert not early.sent
    assert due.sent
    assert charger.sim.profiles[201].valid_to == START + timedelta(minutes=6)


async def test_lease_expiry_falls_back_to_failsafe(harness: Harness) -> None:
    await harness.start(failsafe_current_a=6.0, lease=timedelta(minutes=5))
    charger = await harness.booted16("CP1")
    await charger.start_transaction(1)
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)
    assert (await charger.meter_values(1))[0] == 16.0

    # Home Assistant stops refreshing; the charger's own clock moves past the lease.
    charger.sim.now += timedelta(minutes=5)
    offered, currents = await charger.meter_values(1)

    assert offered == 6.0
    assert currents == [6.0, 6.0, 6.0]
    assert harness.state("CP1").connectors[1].current_offered_a == 6.0


async def test_per_charger_failsafe_and_its_change(harness: Harness) -> None:
    harness.configs["CP1"] = ChargerConfig(failsafe_current_a=0.0)
    await harness.start(failsafe_current_a=6.0)
    charger = await harness.booted16("CP1")
    assert charger.sim.profiles[100].limit == 0.0
    assert harness.central is not None

    harness.configs["CP1"] = ChargerConfig(failsafe_current_a=8.0)
    await harness.central.apply_limit("CP1", 1, 10.0)

    assert charger.sim.profiles[100].limit == 8.0
    assert harness.state("CP1").failsafe.current_a == 8.0


async def test_rejected_purpose_falls_back_to_another(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1", rejected_purposes={"TxProfile"})
    await charger.start_transaction(1)
    assert harness.central is not None

    outcome = await harness.central.apply_limit("CP1", 1, 12.0)
    await charger.meter_values(1)
    again = await harness.central.apply_limit("CP1", 1, 11.0)

    assert outcome.result is LimitResult.ACCEPTED
    assert outcome.purpose is ProfilePurpose.TX_DEFAULT_PROFILE
    assert harness.state("CP1").connectors[1].current_offered_a == 12.0
    # The refused purpose is not tried again while the other one works.
    assert again.purpose is ProfilePurpose.TX_DEFAULT_PROFILE
    assert charger.sim.requests.count("SetChargingProfile") == 1 + 2 + 1
    assert EventType.LIMIT_REJECTED not in {e.type for e in harness.events}


async def test_rejection_is_surfaced(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1", rejected_purposes={"TxProfile"})
    charger.sim.rejected_purposes.add("TxDefaultProfile")
    await charger.start_transaction(1)
    assert harness.central is not None

    outcome = await harness.central.apply_limit("CP1", 1, 12.0)
    repeated = await harness.central.apply_limit("CP1", 1, 12.0)

    assert outcome.result is LimitResult.REJECTED
    assert outcome.reason == "TxProfile: Rejected; TxDefaultProfile: Rejected"
    limit = harness.state("CP1").connectors[1].limit
    assert limit.accepted is False
    assert limit.rejection == outcome.reason
    event = harness.events[-1]
    assert (event.type, event.connector_id, event.reason) == (
        EventType.LIMIT_REJECTED,
        1,
        outcome.reason,
    )
    # The same refused limit is not hammered on every call.
    assert repeated.result is LimitResult.REJECTED
    assert not repeated.sent


async def test_watts_only_charger_gets_watts(harness: Harness) -> None:
    await harness.start(voltage_v=230.0)
    charger = await harness.booted16(
        "CP1", config={"ChargingScheduleAllowedChargingRateUnit": "Power"}
    )
    await charger.start_transaction(1)
    assert harness.central is not None

    await harness.central.apply_limit("CP1", 1, 10.0, phases=3)
    offered, _ = await charger.meter_values(1)

    assert (charger.sim.profiles[201].unit, charger.sim.profiles[201].limit) == ("W", 6900.0)
    # The failsafe in watts assumes one phase: it errs towards less current.
    assert (charger.sim.profiles[100].unit, charger.sim.profiles[100].limit) == ("W", 1380.0)
    assert offered == 10.0


async def test_dual_connector(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1", connectors=2)
    await charger.start_transaction(1)
    await charger.start_transaction(2)
    assert harness.central is not None

    first = await harness.central.apply_limit("CP1", 1, 16.0)
    second = await harness.central.apply_limit("CP1", 2, 8.0)
    station = await harness.central.apply_limit("CP1", 0, 20.0)
    await charger.meter_values(1)
    await charger.meter_values(2)

    assert first.result is second.result is station.result is LimitResult.ACCEPTED
    assert station.purpose is ProfilePurpose.STATION_MAX_PROFILE
    connectors = harness.state("CP1").connectors
    assert (connectors[1].current_offered_a, connectors[2].current_offered_a) == (16.0, 8.0)
    station_profile = charger.sim.profiles[101]
    assert (station_profile.connector_id, station_profile.valid_to) == (0, None)


async def test_session_end_moves_limit_to_default_profile(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")
    await charger.start_transaction(1)
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)

    await charger.stop_transaction(1)
    outcome = await harness.central.apply_limit("CP1", 1, 16.0)

    assert outcome.sent
    assert outcome.purpose is ProfilePurpose.TX_DEFAULT_PROFILE
    assert charger.sim.profiles[201].purpose == "TxDefaultProfile"


async def test_clear_limit(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)

    outcome = await harness.central.clear_limit("CP1", 1)

    assert outcome.result is LimitResult.ACCEPTED
    assert 201 not in charger.sim.profiles
    assert harness.state("CP1").connectors[1].limit.requested_a is None
    assert charger.sim.offered(1) == 6.0


async def test_limit_for_unknown_charger_is_not_connected(harness: Harness) -> None:
    await harness.start()
    assert harness.central is not None

    outcome = await harness.central.apply_limit("nobody", 1, 16.0)

    assert outcome.result is LimitResult.NOT_CONNECTED


async def test_session_from_before_a_restart_is_adopted(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")
    # The charger was charging before Home Assistant started: it reports the session's id.
    charger.sim.transactions[1] = "4711"
    await charger.meter_values(1)
    assert harness.central is not None

    outcome = await harness.central.apply_limit("CP1", 1, 9.0)

    assert outcome.purpose is ProfilePurpose.TX_PROFILE
    assert charger.sim.profiles[201].transaction_id == "4711"


@pytest.mark.parametrize(("limit_a", "sent_a"), [(float("nan"), 0.0), (-3.0, 0.0), (6.99, 6.9)])
async def test_odd_limits_err_low(harness: Harness, limit_a: float, sent_a: float) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")
    assert harness.central is not None

    await harness.central.apply_limit("CP1", 1, limit_a)

    assert charger.sim.profiles[201].limit == sent_a


async def test_phases_are_checked(harness: Harness) -> None:
    await harness.start()
    assert harness.central is not None

    with pytest.raises(ValueError, match="phases"):
        await harness.central.apply_limit("CP1", 1, 10.0, phases=4)
