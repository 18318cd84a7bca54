"""OCPP 2.0.1: the messages a charging station sends us, and the requests we send it.

Connector ids in the state are EVSE ids here: 2.0.1 limits and measures per EVSE.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ocpp.v201 import ChargePoint, call, call_result, datatypes
from ocpp.v201.enums import (
    Action,
    AuthorizationStatusEnumType,
    ChargingProfileKindEnumType,
    ChargingProfilePurposeEnumType,
    ChargingProfileStatusEnumType,
    ClearChargingProfileStatusEnumType,
    DataTransferStatusEnumType,
    GetVariableStatusEnumType,
    RegistrationStatusEnumType,
    SetVariableStatusEnumType,
    TransactionEventEnumType,
)

from .connection import WebSocketConnection
from .meter import WANTED_MEASURANDS
from .models import Capabilities, EventType, ProfilePurpose, Registration
from .protocol import (
    Answer,
    LibraryLog,
    Profile,
    answered,
    handles,
    ocpp_datetime,
    parse_datetime,
    text,
)
from .session import ChargerSession

_PENDING_RETRY_S = 60
_SMART_CHARGING = "SmartChargingCtrlr"
_SAMPLED_DATA = "SampledDataCtrlr"
_MEASURANDS = f"{_SAMPLED_DATA}/TxUpdatedMeasurands"
_INTERVAL = f"{_SAMPLED_DATA}/TxUpdatedInterval"
_READ = (
    (_SMART_CHARGING, "Enabled"),
    (_SMART_CHARGING, "RateUnit"),
    (_SMART_CHARGING, "ProfileStackLevel"),
    (_SMART_CHARGING, "PeriodsPerSchedule"),
    (_SAMPLED_DATA, "TxUpdatedMeasurands"),
    (_SAMPLED_DATA, "TxUpdatedInterval"),
)
_PURPOSES = {
    ProfilePurpose.TX_PROFILE: ChargingProfilePurposeEnumType.tx_profile,
    ProfilePurpose.TX_DEFAULT_PROFILE: ChargingProfilePurposeEnumType.tx_default_profile,
    ProfilePurpose.STATION_MAX_PROFILE: ChargingProfilePurposeEnumType.charging_station_max_profile,
}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _key(item: Mapping[str, Any]) -> str | None:
    component, variable = item.get("component") or {}, item.get("variable") or {}
    if not isinstance(component.get("name"), str) or not isinstance(variable.get("name"), str):
        return None
    return f"{component['name']}/{variable['name']}"


def _derive(caps: Capabilities) -> None:
    """Fill the typed capabilities from the device model variables read so far."""
    values = caps.settings
    if (enabled := values.get(f"{_SMART_CHARGING}/Enabled")) is not None:
        caps.smart_charging = enabled.lower() == "true"
    caps.max_stack_level = _int(values.get(f"{_SMART_CHARGING}/ProfileStackLevel"))
    units = {unit for unit in _csv(values.get(f"{_SMART_CHARGING}/RateUnit")) if unit in "AW"}
    caps.rate_units = frozenset(units) if units else None
    caps.max_periods = _int(values.get(f"{_SMART_CHARGING}/PeriodsPerSchedule"))
    if _MEASURANDS in values:
        caps.sampled_measurands = tuple(_csv(values[_MEASURANDS]))
    caps.sample_interval_s = _int(values.get(_INTERVAL))


class Ocpp201ChargePoint(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """Handlers for OCPP 2.0.1; the session keeps the state."""

    def __init__(
        self, session: ChargerSession, connection: WebSocketConnection, log: LibraryLog
    ) -> None:
        """Bind the library's charge point to a session."""
        super().__init__(
            session.charge_point_id,
            connection,
            response_timeout=session.settings.response_timeout_s,
            logger=log,
        )
        self._session = session

    def _id_token_info(self, id_token: str) -> dict[str, str]:
        accepted = self._session.authorize(id_token)
        return {
            "status": AuthorizationStatusEnumType.accepted
            if accepted
            else AuthorizationStatusEnumType.invalid
        }

    # Messages from the charging station.

    @handles(Action.boot_notification)
    def on_boot_notification(self, charging_station: Mapping[str, Any], **_: Any) -> Any:
        """Accept known stations, hold unknown ones pending, and set the station's clock."""
        registration = self._session.on_boot(
            vendor=text(charging_station, "vendor_name"),
            model=text(charging_station, "model"),
            serial_number=text(charging_station, "serial_number"),
            firmware_version=text(charging_station, "firmware_version"),
        )
        accepted = registration is Registration.ACCEPTED
        return call_result.BootNotification(
            current_time=ocpp_datetime(self._session.clock()),
            interval=(
                self._session.settings.heartbeat_interval_s if accepted else _PENDING_RETRY_S
            ),
            status=(
                RegistrationStatusEnumType.accepted
                if accepted
                else RegistrationStatusEnumType.pending
            ),
        )

    @answered(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        """Start the set-up only once the station has its answer."""
        self._session.boot_answered()

    @handles(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        """Answer with our time."""
        return call_result.Heartbeat(current_time=ocpp_datetime(self._session.clock()))

    @handles(Action.status_notification)
    def on_status_notification(self, evse_id: int, connector_status: str, **_: Any) -> Any:
        """Record an EVSE's connector status."""
        self._session.require_accepted()
        self._session.on_status(evse_id, connector_status, None)
        return call_result.StatusNotification()

    @handles(Action.authorize)
    def on_authorize(self, id_token: Mapping[str, Any], **_: Any) -> Any:
        """Apply the authorize policy."""
        self._session.require_accepted()
        return call_result.Authorize(
            id_token_info=self._id_token_info(text(id_token, "id_token") or "")
        )

    @handles(Action.transaction_event)
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        transaction_info: Mapping[str, Any],
        **kwargs: Any,
    ) -> Any:
        """Follow a transaction: start, charging state, meter values, end."""
        session = self._session
        session.require_accepted()
        transaction_id = str(transaction_info["transaction_id"])
        id_tag = text(kwargs.get("id_token") or {}, "id_token")
        evse = kwargs.get("evse") or {}
        connector = session.find_transaction(transaction_id)
        # Only the first event of a transaction has to name its EVSE.
        evse_id = evse.get("id") if connector is None else connector.connector_id
        if isinstance(evse_id, int):
            if connector is None and event_type != TransactionEventEnumType.ended:
                started = event_type == TransactionEventEnumType.started
                connector = session.start_transaction(
                    evse_id,
                    transaction_id,
                    id_tag=id_tag,
                    meter_start_wh=None,
                    started_at=parse_datetime(timestamp) if started else None,
                )
            state = session.state.connector(evse_id)
            charging_state = text(transaction_info, "charging_state")
            if charging_state is not None and charging_state != state.charging_state:
                state.charging_state = charging_state
                session.emit(EventType.STATUS, evse_id)
            meter_values: Sequence[Mapping[str, Any]] = kwargs.get("meter_value") or ()
            if meter_values:
                session.on_meter_values(evse_id, meter_values)
            if event_type == TransactionEventEnumType.ended:
                session.stop_transaction(transaction_id)
        return call_result.TransactionEvent(
            id_token_info=self._id_token_info(id_tag) if id_tag is not None else None
        )

    @handles(Action.meter_values)
    def on_meter_values(
        self, evse_id: int, meter_value: Sequence[Mapping[str, Any]], **_: Any
    ) -> Any:
        """Record an EVSE's measurements (EVSE 0: the station's main meter)."""
        self._session.require_accepted()
        self._session.on_meter_values(evse_id, meter_value)
        return call_result.MeterValues()

    @handles(Action.notify_report)
    def on_notify_report(self, **kwargs: Any) -> Any:
        """Keep the reported device model variables (their Actual values)."""
        self._session.require_accepted()
        caps = self._session.state.capabilities
        for item in kwargs.get("report_data") or ():
            attributes: Iterable[Mapping[str, Any]] = item.get("variable_attribute") or ()
            for attribute in attributes:
                value = attribute.get("value")
                if (key := _key(item)) and attribute.get("type", "Actual") == "Actual" and value:
                    caps.settings[key] = str(value)
        _derive(caps)
        self._session.emit(EventType.CAPABILITIES)
        return call_result.NotifyReport()

    @handles(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        """Answer vendor extensions: we know none."""
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    @handles(Action.notify_event)
    def on_notify_event(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.NotifyEvent()

    @handles(Action.security_event_notification)
    def on_security_event_notification(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.SecurityEventNotification()

    @handles(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.FirmwareStatusNotification()

    @handles(Action.log_status_notification)
    def on_log_status_notification(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.LogStatusNotification()

    # Requests to the charging station.

    async def read_capabilities(self) -> None:
        """Read the smart charging and sampling variables of the device model."""
        result = await self.call(
            call.GetVariables(
                get_variable_data=[
                    datatypes.GetVariableDataType(
                        component=datatypes.ComponentType(name=component),
                        variable=datatypes.VariableType(name=variable),
                    )
                    for component, variable in _READ
                ]
            ),
            suppress=False,
        )
        caps = self._session.state.capabilities
        for item in result.get_variable_result or ():
            key, value = _key(item), item.get("attribute_value")
            if key and item.get("attribute_status") == GetVariableStatusEnumType.accepted:
                caps.settings[key] = str(value or "")
        _derive(caps)

    async def configure_sampling(self) -> None:
        """Ask for our measurands and interval where the station reported different ones."""
        caps = self._session.state.capabilities
        interval = str(self._session.settings.meter_sample_interval_s)
        wanted = ",".join(WANTED_MEASURANDS)
        changes = [
            (key, value)
            for key, value, differs in (
                (_MEASURANDS, wanted, set(caps.sampled_measurands or ()) != set(WANTED_MEASURANDS)),
                (_INTERVAL, interval, caps.settings.get(_INTERVAL) != interval),
            )
            if key in caps.settings and differs
        ]
        if not changes:
            return
        result = await self.call(
            call.SetVariables(
                set_variable_data=[
                    datatypes.SetVariableDataType(
                        attribute_value=value,
                        component=datatypes.ComponentType(name=key.split("/")[0]),
                        variable=datatypes.VariableType(name=key.split("/")[1]),
                    )
                    for key, value in changes
                ]
            ),
            suppress=False,
        )
        accepted = {
            _key(item)
            for item in result.set_variable_result or ()
            if item.get("attribute_status")
            in (SetVariableStatusEnumType.accepted, SetVariableStatusEnumType.reboot_required)
        }
        for key, value in changes:
            if key in accepted:
                caps.settings[key] = value
        _derive(caps)

    async def set_profile(self, profile: Profile) -> Answer:
        """Send SetChargingProfile for one EVSE (EVSE 0 for the station and the base profile)."""
        duration = (
            int((profile.valid_to - profile.start).total_seconds())
            if profile.valid_to is not None
            else None
        )
        charging_profile = datatypes.ChargingProfileType(
            id=profile.profile_id,
            stack_level=profile.stack_level,
            charging_profile_purpose=_PURPOSES[profile.purpose],
            # Absolute everywhere; ChargingStationMaxProfile may be nothing else.
            charging_profile_kind=ChargingProfileKindEnumType.absolute,
            charging_schedule=[
                datatypes.ChargingScheduleType(
                    id=profile.profile_id,
                    charging_rate_unit=profile.unit,
                    start_schedule=ocpp_datetime(profile.start),
                    duration=duration,
                    charging_schedule_period=[
                        datatypes.ChargingSchedulePeriodType(
                            start_period=0, limit=profile.limit, number_phases=profile.phases
                        )
                    ],
                )
            ],
            valid_to=ocpp_datetime(profile.valid_to) if profile.valid_to is not None else None,
            transaction_id=profile.transaction_id,
        )
        result = await self.call(
            call.SetChargingProfile(
                evse_id=profile.connector_id, charging_profile=charging_profile
            ),
            suppress=False,
        )
        status_info = result.status_info or {}
        reason = status_info.get("reason_code") if isinstance(status_info, Mapping) else None
        return Answer(
            result.status == ChargingProfileStatusEnumType.accepted,
            f"{result.status} ({reason})" if reason else str(result.status),
        )

    async def clear_profile(self, profile_id: int) -> Answer:
        """Send ClearChargingProfile; a profile the station does not have is cleared too."""
        result = await self.call(
            call.ClearChargingProfile(charging_profile_id=profile_id), suppress=False
        )
        return Answer(
            result.status
            in (
                ClearChargingProfileStatusEnumType.accepted,
                ClearChargingProfileStatusEnumType.unknown,
            ),
            str(result.status),
        )
