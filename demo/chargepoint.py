"""Simulated charge points (OCPP 1.6J and 2.0.1) built on the ocpp library.

Each one keeps the charging profiles it was sent, applies them with its own clock (set from
the BootNotification answer, advanced by tests) and reports the result in its meter values:
Current.Offered is the effective limit, Current.Import what the simulated car draws.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import itertools
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16, call as call16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201, call as call201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import ClientConnection

MIN_CURRENT_A = 6.0
CHARGER_MAX_A = 32.0
VOLTAGE_V = 230.0


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Car:
    """What the car draws: up to max_a on its phases, nothing below the IEC minimum."""

    phases: int = 3
    max_a: float = 16.0

    def currents(self, offered: float) -> list[float]:
        draw = min(offered, self.max_a) if offered >= MIN_CURRENT_A else 0.0
        return [draw if phase < self.phases else 0.0 for phase in range(3)]


@dataclass
class StoredProfile:
    connector_id: int
    profile_id: int
    purpose: str
    stack_level: int
    kind: str
    unit: str
    limit: float
    number_phases: int | None
    start: datetime | None
    duration: int | None
    valid_to: datetime | None
    transaction_id: str | None

    def active(self, now: datetime) -> bool:
        if self.valid_to is not None and now >= self.valid_to:
            return False
        if self.start is not None and now < self.start:
            return False
        return not (
            self.duration is not None
            and self.start is not None
            and now >= self.start + timedelta(seconds=self.duration)
        )

    def amps(self) -> float:
        if self.unit == "W":
            return self.limit / (VOLTAGE_V * (self.number_phases or 3))
        return self.limit


@dataclass
class SimState:
    """Charger-side state shared by both versions."""

    connectors: int
    car: Car
    rejected_purposes: set[str]
    profiles: dict[int, StoredProfile] = field(default_factory=dict)
    transactions: dict[int, str] = field(default_factory=dict)
    energy_wh: dict[int, float] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    profile_writes: list[StoredProfile] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def store(self, profile: StoredProfile) -> str:
        """Apply the spec's acceptance rules and keep the profile; return the status."""
        if profile.purpose in self.rejected_purposes:
            return "Rejected"
        if profile.purpose in ("ChargePointMaxProfile", "ChargingStationMaxProfile") and (
            profile.connector_id != 0 or profile.kind != "Absolute"
        ):
            return "Rejected"
        if profile.purpose == "TxProfile" and (
            profile.connector_id == 0 or profile.connector_id not in self.transactions
        ):
            return "Rejected"
        for existing_id, existing in list(self.profiles.items()):
            if (existing.connector_id, existing.purpose, existing.stack_level) == (
                profile.connector_id,
                profile.purpose,
                profile.stack_level,
            ):
                del self.profiles[existing_id]
        self.profiles[profile.profile_id] = profile
        self.profile_writes.append(profile)
        return "Accepted"

    def _best(self, purposes: tuple[str, ...], connectors: tuple[int, ...]) -> float | None:
        candidates = [
            p
            for p in self.profiles.values()
            if p.purpose in purposes and p.connector_id in connectors and p.active(self.now)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda p: p.stack_level).amps()

    def offered(self, connector_id: int) -> float:
        """The current this connector offers now under its profiles."""
        limit = None
        if connector_id in self.transactions:
            limit = self._best(("TxProfile",), (connector_id,))
        if limit is None:
            limit = self._best(("TxDefaultProfile",), (connector_id, 0))
        station = self._best(("ChargePointMaxProfile", "ChargingStationMaxProfile"), (0,))
        offered = CHARGER_MAX_A if limit is None else limit
        return min(offered, station if station is not None else CHARGER_MAX_A)

    def reading(self, connector_id: int) -> tuple[float, list[float], float, float]:
        offered = self.offered(connector_id)
        currents = (
            self.car.currents(offered) if connector_id in self.transactions else [0.0, 0.0, 0.0]
        )
        power = sum(currents) * VOLTAGE_V
        energy = self.energy_wh.get(connector_id, 1000.0) + power / 360
        self.energy_wh[connector_id] = energy
        return offered, currents, power, energy


def _profile16(connector_id: int, data: dict[str, Any]) -> StoredProfile:
    schedule = data["charging_schedule"]
    period = schedule["charging_schedule_period"][0]
    transaction_id = data.get("transaction_id")
    return StoredProfile(
        connector_id=connector_id,
        profile_id=data["charging_profile_id"],
        purpose=data["charging_profile_purpose"],
        stack_level=data["stack_level"],
        kind=data["charging_profile_kind"],
        unit=schedule["charging_rate_unit"],
        limit=float(Decimal(period["limit"])),
        number_phases=period.get("number_phases"),
        start=parse(schedule.get("start_schedule")),
        duration=schedule.get("duration"),
        valid_to=parse(data.get("valid_to")),
        transaction_id=str(transaction_id) if transaction_id is not None else None,
    )


class SimCharger16(ChargePoint16):
    """An OCPP 1.6J charge point."""

    def __init__(
        self,
        cp_id: str,
        connection: ClientConnection,
        *,
        connectors: int = 1,
        car: Car | None = None,
        rejected_purposes: set[str] | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        super().__init__(cp_id, connection, response_timeout=5)
        self.sim = SimState(connectors, car or Car(), rejected_purposes or set())
        self.config = {
            "SupportedFeatureProfiles": "Core,SmartCharging",
            "ChargeProfileMaxStackLevel": "8",
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "ChargingScheduleMaxPeriods": "24",
            "NumberOfConnectors": str(connectors),
            "MeterValuesSampledData": "Energy.Active.Import.Register",
            "MeterValueSampleInterval": "60",
        } | (config or {})

    @on(Action16.get_configuration)
    def on_get_configuration(self, **_: Any) -> Any:
        self.sim.requests.append("GetConfiguration")
        return self._call_result.GetConfiguration(
            configuration_key=[
                {"key": key, "readonly": False, "value": value}
                for key, value in self.config.items()
            ]
        )

    @on(Action16.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        self.sim.requests.append(f"ChangeConfiguration {key}={value}")
        self.config[key] = value
        return self._call_result.ChangeConfiguration(status="Accepted")

    @on(Action16.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: Any, **_: Any
    ) -> Any:
        self.sim.requests.append("SetChargingProfile")
        status = self.sim.store(_profile16(connector_id, cs_charging_profiles))
        return self._call_result.SetChargingProfile(status=status)

    @on(Action16.clear_charging_profile)
    def on_clear_charging_profile(self, id: int | None = None, **_: Any) -> Any:  # noqa: A002
        self.sim.requests.append("ClearChargingProfile")
        found = self.sim.profiles.pop(id, None) if id is not None else None
        return self._call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    async def boot(self, vendor: str = "Sim", firmware: str = "1.0") -> Any:
        result = await self.call(
            call16.BootNotification(
                charge_point_model="Sim16",
                charge_point_vendor=vendor,
                firmware_version=firmware,
            ),
            suppress=False,
        )
        if (clock := parse(result.current_time)) is not None:
            self.sim.now = clock
        return result

    async def status(self, connector_id: int, status: str) -> None:
        await self.call(
            call16.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status
            ),
            suppress=False,
        )

    async def start_transaction(self, connector_id: int, id_tag: str = "TAG1") -> Any:
        result = await self.call(
            call16.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=int(self.sim.energy_wh.get(connector_id, 1000.0)),
                timestamp=iso(self.sim.now),
            ),
            suppress=False,
        )
        self.sim.transactions[connector_id] = str(result.transaction_id)
        return result

    async def stop_transaction(self, connector_id: int) -> Any:
        transaction_id = self.sim.transactions.pop(connector_id)
        # A charger deletes a transaction's TxProfile when the transaction ends.
        for profile_id, profile in list(self.sim.profiles.items()):
            if profile.purpose == "TxProfile" and profile.connector_id == connector_id:
                del self.sim.profiles[profile_id]
        return await self.call(
            call16.StopTransaction(
                meter_stop=int(self.sim.energy_wh.get(connector_id, 1000.0)),
                timestamp=iso(self.sim.now),
                transaction_id=int(transaction_id),
            ),
            suppress=False,
        )

    async def meter_values(self, connector_id: int) -> tuple[float, list[float]]:
        offered, currents, power, energy = self.sim.reading(connector_id)
        sampled = [
            {"value": f"{offered:.1f}", "measurand": "Current.Offered", "unit": "A"},
            *(
                {
                    "value": f"{current:.1f}",
                    "measurand": "Current.Import",
                    "phase": phase,
                    "unit": "A",
                }
                for phase, current in zip(("L1", "L2", "L3"), currents, strict=True)
            ),
            {"value": f"{power:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{energy:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        ]
        transaction_id = self.sim.transactions.get(connector_id)
        await self.call(
            call16.MeterValues(
                connector_id=connector_id,
                meter_value=[{"timestamp": iso(self.sim.now), "sampled_value": sampled}],
                transaction_id=int(transaction_id) if transaction_id else None,
            ),
            suppress=False,
        )
        return offered, currents


_DEVICE_MODEL = {
    ("SmartChargingCtrlr", "Enabled"): "true",
    ("SmartChargingCtrlr", "RateUnit"): "A,W",
    ("SmartChargingCtrlr", "ProfileStackLevel"): "8",
    ("SmartChargingCtrlr", "PeriodsPerSchedule"): "24",
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "Energy.Active.Import.Register",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "60",
}


def _profile201(evse_id: int, data: dict[str, Any]) -> StoredProfile:
    schedule = data["charging_schedule"][0]
    period = schedule["charging_schedule_period"][0]
    return StoredProfile(
        connector_id=evse_id,
        profile_id=data["id"],
        purpose=data["charging_profile_purpose"],
        stack_level=data["stack_level"],
        kind=data["charging_profile_kind"],
        unit=schedule["charging_rate_unit"],
        limit=float(period["limit"]),
        number_phases=period.get("number_phases"),
        start=parse(schedule.get("start_schedule")),
        duration=schedule.get("duration"),
        valid_to=parse(data.get("valid_to")),
        transaction_id=data.get("transaction_id"),
    )


class SimCharger201(ChargePoint201):
    """An OCPP 2.0.1 charging station; connector ids below are EVSE ids."""

    def __init__(
        self,
        cp_id: str,
        connection: ClientConnection,
        *,
        connectors: int = 1,
        car: Car | None = None,
        rejected_purposes: set[str] | None = None,
    ) -> None:
        super().__init__(cp_id, connection, response_timeout=5)
        self.sim = SimState(connectors, car or Car(), rejected_purposes or set())
        self.device_model = dict(_DEVICE_MODEL)
        self._seq = itertools.count()
        self._transaction_ids = itertools.count(1)

    @on(Action201.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self.sim.requests.append("GetVariables")
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            value = self.device_model.get(key)
            results.append(
                {
                    "attribute_status": "Accepted" if value is not None else "UnknownVariable",
                    "component": item["component"],
                    "variable": item["variable"],
                    **({"attribute_value": value} if value is not None else {}),
                }
            )
        return self._call_result.GetVariables(get_variable_result=results)

    @on(Action201.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            self.sim.requests.append(f"SetVariables {key[0]}.{key[1]}={item['attribute_value']}")
            self.device_model[key] = item["attribute_value"]
            results.append(
                {
                    "attribute_status": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return self._call_result.SetVariables(set_variable_result=results)

    @on(Action201.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: Any, **_: Any) -> Any:
        self.sim.requests.append("SetChargingProfile")
        profile = _profile201(evse_id, charging_profile)
        if profile.purpose == "TxProfile" and self.sim.transactions.get(evse_id) != (
            profile.transaction_id
        ):
            return self._call_result.SetChargingProfile(status="Rejected")
        return self._call_result.SetChargingProfile(status=self.sim.store(profile))

    @on(Action201.clear_charging_profile)
    def on_clear_charging_profile(self, charging_profile_id: int | None = None, **_: Any) -> Any:
        self.sim.requests.append("ClearChargingProfile")
        found = self.sim.profiles.pop(charging_profile_id, None) if charging_profile_id else None
        return self._call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    async def boot(self) -> Any:
        result = await self.call(
            call201.BootNotification(
                charging_station={
                    "vendor_name": "Sim",
                    "model": "Sim201",
                    "firmware_version": "2.0",
                },
                reason="PowerUp",
            ),
            suppress=False,
        )
        if (clock := parse(result.current_time)) is not None:
            self.sim.now = clock
        return result

    async def status(self, evse_id: int, status: str) -> None:
        await self.call(
            call201.StatusNotification(
                timestamp=iso(self.sim.now),
                connector_status=status,
                evse_id=evse_id,
                connector_id=1,
            ),
            suppress=False,
        )

    def _meter_value(self, evse_id: int, context: str) -> list[dict[str, Any]]:
        offered, currents, power, energy = self.sim.reading(evse_id)
        sampled: list[dict[str, Any]] = [
            {
                "value": offered,
                "measurand": "Current.Offered",
                "context": context,
                "unit_of_measure": {"unit": "A"},
            },
            *(
                {
                    "value": current,
                    "measurand": "Current.Import",
                    "phase": phase,
                    "context": context,
                    "unit_of_measure": {"unit": "A"},
                }
                for phase, current in zip(("L1", "L2", "L3"), currents, strict=True)
            ),
            {
                "value": power / 1000,
                "measurand": "Power.Active.Import",
                "context": context,
                "unit_of_measure": {"unit": "kW"},
            },
            {
                "value": energy,
                "measurand": "Energy.Active.Import.Register",
                "context": context,
                "unit_of_measure": {"unit": "Wh"},
            },
        ]
        return [{"timestamp": iso(self.sim.now), "sampled_value": sampled}]

    async def transaction_event(
        self, evse_id: int, event_type: str, charging_state: str = "Charging"
    ) -> Any:
        if event_type == "Started":
            self.sim.transactions[evse_id] = f"TX{next(self._transaction_ids)}"
        transaction_id = self.sim.transactions[evse_id]
        context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
            event_type, "Sample.Periodic"
        )
        meter_value = self._meter_value(evse_id, context)
        if event_type == "Ended":
            del self.sim.transactions[evse_id]
            for profile_id, profile in list(self.sim.profiles.items()):
                if profile.purpose == "TxProfile" and profile.connector_id == evse_id:
                    del self.sim.profiles[profile_id]
        return await self.call(
            call201.TransactionEvent(
                event_type=event_type,
                timestamp=iso(self.sim.now),
                trigger_reason="Authorized" if event_type == "Started" else "MeterValuePeriodic",
                seq_no=next(self._seq),
                transaction_info={
                    "transaction_id": transaction_id,
                    "charging_state": charging_state,
                },
                meter_value=meter_value,
                evse={"id": evse_id, "connector_id": 1} if event_type == "Started" else None,
                id_token=(
                    {"id_token": "TAG1", "type": "ISO14443"} if event_type == "Started" else None
                ),
            ),
            suppress=False,
        )

    async def meter_values(self, evse_id: int) -> float:
        meter_value = self._meter_value(evse_id, "Sample.Periodic")
        await self.call(
            call201.MeterValues(evse_id=evse_id, meter_value=meter_value), suppress=False
        )
        return float(meter_value[0]["sampled_value"][0]["value"])


async def run(charge_point: ChargePoint16 | ChargePoint201) -> None:
    """Serve the charge point until its connection closes."""
    try:
        await charge_point.start()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the connection closing ends the simulation
        return
