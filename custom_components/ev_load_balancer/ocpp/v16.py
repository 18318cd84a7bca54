"""OCPP 1.6J: the messages a charge point sends us, and the requests we send it."""

from collections.abc import Mapping, Sequence
from typing import Any

from ocpp.v16 import ChargePoint, call, call_result, datatypes
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargingProfileKindType,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    DataTransferStatus,
    RegistrationStatus,
)

from .connection import WebSocketConnection
from .meter import WANTED_MEASURANDS
from .models import Registration
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

_RATE_UNITS = {"Current": "A", "Power": "W"}
_PENDING_RETRY_S = 60


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


class Ocpp16ChargePoint(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """Handlers for OCPP 1.6J; the session keeps the state."""

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

    def _id_tag_info(self, id_tag: str) -> dict[str, str]:
        accepted = self._session.authorize(id_tag)
        return {"status": AuthorizationStatus.accepted if accepted else AuthorizationStatus.invalid}

    # Messages from the charge point.

    @handles(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> Any:
        """Accept known chargers, hold unknown ones pending, and set the charger's clock."""
        registration = self._session.on_boot(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=kwargs.get("charge_point_serial_number")
            or kwargs.get("charge_box_serial_number"),
            firmware_version=kwargs.get("firmware_version"),
        )
        accepted = registration is Registration.ACCEPTED
        return call_result.BootNotification(
            current_time=ocpp_datetime(self._session.clock()),
            interval=(
                self._session.settings.heartbeat_interval_s if accepted else _PENDING_RETRY_S
            ),
            status=RegistrationStatus.accepted if accepted else RegistrationStatus.pending,
        )

    @answered(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        """Start the set-up only once the charger has its answer."""
        self._session.boot_answered()

    @handles(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        """Answer with our time, which chargers also use to keep their clock right."""
        return call_result.Heartbeat(current_time=ocpp_datetime(self._session.clock()))

    @handles(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **_: Any
    ) -> Any:
        """Record a connector's status."""
        self._session.require_accepted()
        self._session.on_status(connector_id, status, error_code)
        return call_result.StatusNotification()

    @handles(Action.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        """Apply the authorize policy."""
        self._session.require_accepted()
        return call_result.Authorize(id_tag_info=self._id_tag_info(id_tag))

    @handles(Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        """Number the transaction and record its start."""
        self._session.require_accepted()
        transaction_id = self._session.new_transaction_id()
        self._session.start_transaction(
            connector_id,
            str(transaction_id),
            id_tag=id_tag,
            meter_start_wh=float(meter_start),
            started_at=parse_datetime(timestamp) or self._session.clock(),
        )
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=self._id_tag_info(id_tag)
        )

    @handles(Action.stop_transaction)
    def on_stop_transaction(self, meter_stop: int, transaction_id: int, **kwargs: Any) -> Any:
        """Record the end of a transaction, and its last meter values."""
        self._session.require_accepted()
        connector = self._session.find_transaction(str(transaction_id))
        transaction_data: Sequence[Mapping[str, Any]] = kwargs.get("transaction_data") or ()
        if connector is not None and transaction_data:
            self._session.on_meter_values(connector.connector_id, transaction_data)
        self._session.stop_transaction(str(transaction_id), float(meter_stop))
        id_tag = text(kwargs, "id_tag")
        return call_result.StopTransaction(
            id_tag_info=self._id_tag_info(id_tag) if id_tag is not None else None
        )

    @handles(Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: Sequence[Mapping[str, Any]], **kwargs: Any
    ) -> Any:
        """Record a connector's measurements, and a session started before we knew of it."""
        session = self._session
        session.require_accepted()
        transaction_id = kwargs.get("transaction_id")
        if (
            transaction_id is not None
            and connector_id > 0
            and session.state.connector(connector_id).transaction is None
        ):
            # Home Assistant restarted during the session: adopt it, so that a TxProfile
            # can reach it.
            session.start_transaction(
                connector_id,
                str(transaction_id),
                id_tag=None,
                meter_start_wh=None,
                started_at=None,
            )
        session.on_meter_values(connector_id, meter_value)
        return call_result.MeterValues()

    @handles(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        """Answer vendor extensions: we know none."""
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @handles(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.DiagnosticsStatusNotification()

    @handles(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.FirmwareStatusNotification()

    @handles(Action.security_event_notification)
    def on_security_event_notification(self, **_: Any) -> Any:
        """Acknowledge."""
        return call_result.SecurityEventNotification()

    # Requests to the charge point.

    async def read_capabilities(self) -> None:
        """Read the whole configuration once (GetConfiguration without keys)."""
        result = await self.call(call.GetConfiguration(), suppress=False)
        values: dict[str, str] = {}
        for entry in result.configuration_key or ():
            if isinstance(entry, Mapping) and isinstance(entry.get("key"), str):
                values[entry["key"]] = str(entry.get("value") or "")
        caps = self._session.state.capabilities
        caps.settings = values
        profiles = _csv(values.get("SupportedFeatureProfiles"))
        caps.smart_charging = "SmartCharging" in profiles if profiles else None
        caps.max_stack_level = _int(values.get("ChargeProfileMaxStackLevel"))
        units = {
            _RATE_UNITS[unit]
            for unit in _csv(values.get("ChargingScheduleAllowedChargingRateUnit"))
            if unit in _RATE_UNITS
        }
        caps.rate_units = frozenset(units) if units else None
        caps.max_periods = _int(values.get("ChargingScheduleMaxPeriods"))
        caps.number_of_connectors = _int(values.get("NumberOfConnectors"))
        if "MeterValuesSampledData" in values:
            caps.sampled_measurands = tuple(_csv(values["MeterValuesSampledData"]))
        caps.sample_interval_s = _int(values.get("MeterValueSampleInterval"))

    async def _change(self, key: str, value: str) -> bool:
        result = await self.call(call.ChangeConfiguration(key=key, value=value), suppress=False)
        if result.status not in (ConfigurationStatus.accepted, ConfigurationStatus.reboot_required):
            return False
        self._session.state.capabilities.settings[key] = value
        return True

    async def configure_sampling(self) -> None:
        """Ask for our measurands and interval where the charger has other values.

        Only keys the charger reported and that differ are written: every write may wear
        the charger's flash.
        """
        caps = self._session.state.capabilities
        settings = caps.settings
        if "MeterValuesSampledData" in settings:
            max_length = _int(settings.get("MeterValuesSampledDataMaxLength"))
            wanted = WANTED_MEASURANDS[:max_length] if max_length else WANTED_MEASURANDS
            if set(caps.sampled_measurands or ()) != set(wanted) and await self._change(
                "MeterValuesSampledData", ",".join(wanted)
            ):
                caps.sampled_measurands = wanted
        interval = self._session.settings.meter_sample_interval_s
        if (
            "MeterValueSampleInterval" in settings
            and caps.sample_interval_s != interval
            and await self._change("MeterValueSampleInterval", str(interval))
        ):
            caps.sample_interval_s = interval

    async def set_profile(self, profile: Profile) -> Answer:
        """Send SetChargingProfile."""
        duration = (
            int((profile.valid_to - profile.start).total_seconds())
            if profile.valid_to is not None
            else None
        )
        charging_profile = datatypes.ChargingProfile(
            charging_profile_id=profile.profile_id,
            stack_level=profile.stack_level,
            charging_profile_purpose=str(profile.purpose),
            charging_profile_kind=ChargingProfileKindType.absolute,
            charging_schedule=datatypes.ChargingSchedule(
                charging_rate_unit=profile.unit,
                start_schedule=ocpp_datetime(profile.start),
                duration=duration,
                charging_schedule_period=[
                    datatypes.ChargingSchedulePeriod(
                        start_period=0, limit=profile.limit, number_phases=profile.phases
                    )
                ],
            ),
            transaction_id=(
                int(profile.transaction_id) if profile.transaction_id is not None else None
            ),
            valid_to=ocpp_datetime(profile.valid_to) if profile.valid_to is not None else None,
        )
        result = await self.call(
            call.SetChargingProfile(
                connector_id=profile.connector_id, cs_charging_profiles=charging_profile
            ),
            suppress=False,
        )
        return Answer(result.status == ChargingProfileStatus.accepted, str(result.status))

    async def clear_profile(self, profile_id: int) -> Answer:
        """Send ClearChargingProfile; a profile the charger does not have is cleared too."""
        result = await self.call(call.ClearChargingProfile(id=profile_id), suppress=False)
        return Answer(
            result.status
            in (ClearChargingProfileStatus.accepted, ClearChargingProfileStatus.unknown),
            str(result.status),
        )
