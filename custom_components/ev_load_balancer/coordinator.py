"""The balancing loop: collect a snapshot, ask the engine, send the limits, publish state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import ssl
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .balancing.controller import Controller
from .balancing.model import (
    ChargerLimit,
    ChargerObservation,
    MeterReading,
    Reason,
    Snapshot,
    StepResult,
)
from .const import (
    CONF_CERTFILE,
    CONF_FAILSAFE,
    CONF_KEYFILE,
    CONF_OCPP_PORT,
    CONF_UNKNOWN_CHARGERS,
    CONF_VOLTAGE,
    DOMAIN,
    LOGGER,
)
from .meter_setup import create_meter
from .meters import MeterHealth, MeterSource, ModbusGatewayPool
from .ocpp import (
    CentralSystem,
    CentralSystemSettings,
    ChargerConfig as OcppChargerConfig,
    ChargerEvent,
    ChargerState,
    EventType,
    LimitResult,
    Registration,
    UnknownChargerPolicy,
)
from .site_layout import (
    ChargerBinding,
    RuntimeSettings,
    SiteLayout,
    build_layout,
    controller_settings,
)

CYCLE_INTERVAL = timedelta(seconds=5)
"""The loop runs at least this often; new readings and charger events run it at once."""
MIN_CYCLE_SPACING_S = 1.0
JUMP_A = 1.0
"""A reading this much above the last cycle's on any line runs the loop without the spacing."""
STORE_VERSION = 1
STORE_SAVE_DELAY_S = 10


def site_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of what a site keeps across restarts (priorities, rotation, energy)."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.{entry_id}")


EVENT_CHARGER_PAUSED = f"{DOMAIN}_charger_paused"
EVENT_CHARGER_RESUMED = f"{DOMAIN}_charger_resumed"
EVENT_FAILSAFE = f"{DOMAIN}_failsafe"

_VEHICLE_STATUSES = frozenset(
    {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Occupied", "Reserved"}
)
"""Connector states in which a car is plugged in (1.6 and 2.0.1 names)."""
_PAUSED_REASONS = frozenset(
    {Reason.BELOW_MINIMUM, Reason.ROTATION, Reason.FAILSAFE, Reason.DISABLED}
)


@dataclass(frozen=True, kw_only=True)
class SiteState:
    """What the entities show after one cycle."""

    result: StepResult
    cycle_s: float
    """How long the last cycle took, from its trigger to the limits handed to the chargers."""
    updated_at: datetime = field(default_factory=dt_util.utcnow)


def load_ssl_context(entry: ConfigEntry) -> ssl.SSLContext | None:
    """The OCPP server's TLS context (security profile 2); reads files, so not in the loop."""
    certfile, keyfile = entry.data.get(CONF_CERTFILE), entry.data.get(CONF_KEYFILE)
    if not certfile or not keyfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def _server_key(entry: ConfigEntry) -> tuple[Any, ...]:
    """The site settings and options that only a restart of the site can take."""
    return (
        tuple(sorted((k, str(v)) for k, v in entry.data.items())),
        tuple(sorted((k, str(v)) for k, v in entry.options.items())),
    )


class SiteCoordinator(DataUpdateCoordinator[SiteState]):
    """Owns the OCPP server, the meters and the engine of one site."""

    config_entry: ConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Prepare everything; nothing runs before `async_start`."""
        self._ssl_context = ssl_context
        debouncer: Debouncer[Coroutine[Any, Any, None]] = Debouncer(
            hass, LOGGER, cooldown=MIN_CYCLE_SPACING_S, immediate=True
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=CYCLE_INTERVAL,
            request_refresh_debouncer=debouncer,
        )
        self._refresh_debouncer = debouncer
        self.store = site_store(hass, entry.entry_id)
        self.settings = RuntimeSettings()
        self.layout: SiteLayout = build_layout(entry, self.settings)
        self.controller_settings = controller_settings(entry.options)
        self.controller = Controller(self.layout.site, self.controller_settings)
        self.meters: dict[str, MeterSource] = {}
        self._modbus_pool = ModbusGatewayPool()
        self._meter_unsubs: dict[str, Callable[[], None]] = {}
        self._meter_data: dict[str, Mapping[str, Any]] = {}
        """Per running meter, the configuration it was started with."""
        self._senders: dict[str, _LimitSender] = {}
        self._previous: Mapping[str, ChargerLimit] = {}
        self._failsafe_nodes: frozenset[str] = frozenset()
        self._meters_started_at = time.monotonic()
        self._triggered_at: float | None = None
        self._cycle_readings: dict[str, tuple[float | None, ...]] = {}
        """Per meter, the currents the last cycle used (empty where it had no reading)."""
        self._server_key = _server_key(entry)
        self.site_device_id = ""
        """The device registry id of the site, parent of the other devices."""
        self._known_subentries = set(entry.subentries)
        self.subentry_listeners: list[Callable[[str], None]] = []
        """Platforms' callbacks that add the entities of a subentry added while running."""
        self.central = CentralSystem(
            self._ocpp_settings(),
            charger_config=self._ocpp_charger_config,
            listener=self._on_charger_event,
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore what survives restarts, start the meters and the OCPP server."""
        if stored := await self.store.async_load():
            self.settings = RuntimeSettings.from_dict(stored.get("settings", {}))
            self.layout = build_layout(self.config_entry, self.settings)
            self.controller.reconfigure(self.layout.site)
            self.controller.restore_state(stored.get("controller", {}))
        await self._async_start_meters()
        await self.central.start()

    async def async_stop(self) -> None:
        """Stop everything and save; leaves no task, timer or port behind."""
        for sender in self._senders.values():
            sender.cancel()
        self._senders.clear()
        await self.central.stop()
        await self._async_stop_meters()
        await self.store.async_save(self._store_data())

    async def async_apply_config(self) -> None:
        """Take a changed configuration without restarting the OCPP server."""
        self.layout = build_layout(self.config_entry, self.settings)
        self.controller.reconfigure(self.layout.site)
        await self._async_start_meters()
        for charger_id in set(self._senders) - set(self.layout.chargers):
            self._senders.pop(charger_id).cancel()
        self._update_orphan_issue()
        await self._async_admit_adopted()
        added = set(self.config_entry.subentries) - self._known_subentries
        self._known_subentries = set(self.config_entry.subentries)
        for subentry_id in sorted(added):
            for listener in self.subentry_listeners:
                listener(subentry_id)
        await self.async_request_refresh()

    def needs_restart(self) -> bool:
        """Whether the site's own settings changed since start (the server must restart)."""
        return _server_key(self.config_entry) != self._server_key

    # --- runtime settings (numbers, switches, select, actions) -------------------------------

    async def async_update_settings(self, **changes: Any) -> None:
        """Change priorities, enabled flags, limits or the strategy, and rebalance at once."""
        for key, value in changes.items():
            current = getattr(self.settings, key)
            if isinstance(current, dict):
                current.update(value)
            else:
                setattr(self.settings, key, value)
        self.layout = build_layout(self.config_entry, self.settings)
        self.controller.reconfigure(self.layout.site)
        self.store.async_delay_save(self._store_data, STORE_SAVE_DELAY_S)
        # A user's or an automation's change is applied now, not after the debounce.
        await self.async_refresh()

    def _store_data(self) -> dict[str, Any]:
        return {"settings": self.settings.as_dict(), "controller": self.controller.export_state()}

    # --- the cycle ---------------------------------------------------------------------------

    async def _async_update_data(self) -> SiteState:
        started = self._triggered_at or time.monotonic()
        self._triggered_at = None
        result = self.controller.step(self._snapshot())
        for charger_id, limit in result.limits.items():
            # An offline charger's limit is the worst case it is counted at, not one to send.
            if limit.reason is not Reason.OFFLINE:
                self._send(charger_id, limit)
        self._fire_transitions(result)
        self.store.async_delay_save(self._store_data, STORE_SAVE_DELAY_S * 6)
        return SiteState(result=result, cycle_s=time.monotonic() - started)

    def _snapshot(self) -> Snapshot:
        now = time.monotonic()
        wall_now = dt_util.utcnow()
        meters = {
            meter_id: MeterReading(currents_a=source.reading.current_a, at=source.reading.timestamp)
            for meter_id, source in self.meters.items()
            if source.reading is not None and source.health is MeterHealth.HEALTHY
        }
        self._cycle_readings = {
            meter_id: meters[meter_id].currents_a if meter_id in meters else ()
            for meter_id in self.meters
        }
        states = self.central.chargers
        chargers = {
            charger_id: self._observe(states.get(binding.charge_point_id), binding, now, wall_now)
            for charger_id, binding in self.layout.chargers.items()
        }
        return Snapshot(now=now, meters=meters, chargers=chargers)

    @staticmethod
    def _observe(
        state: ChargerState | None, binding: ChargerBinding, now: float, wall_now: datetime
    ) -> ChargerObservation:
        if state is None or not state.connected:
            return ChargerObservation(online=False, vehicle_connected=False)
        connector = state.connectors.get(binding.connector_id)
        if connector is None:
            return ChargerObservation(online=True, vehicle_connected=False)

        def monotonic(moment: datetime | None) -> float | None:
            return None if moment is None else now - (wall_now - moment).total_seconds()

        phases = connector.current_import_a
        currents = (phases.l1, phases.l2, phases.l3)
        measured = (
            tuple(value or 0.0 for value in currents)
            if any(value is not None for value in currents)
            else None
        )
        transaction = connector.transaction
        limit = connector.limit
        return ChargerObservation(
            online=True,
            vehicle_connected=connector.status in _VEHICLE_STATUSES or transaction is not None,
            currents_a=measured,
            measured_at=monotonic(connector.meter_updated_at),
            session_energy_kwh=(connector.session_energy_wh or 0.0) / 1000,
            session_started_at=monotonic(transaction.started_at if transaction else None),
            # What it holds, even when a newer limit was refused or went unanswered.
            applied_limit_a=limit.sent_a,
        )

    def _send(self, charger_id: str, limit: ChargerLimit) -> None:
        binding = self.layout.chargers.get(charger_id)
        if binding is None:
            return
        sender = self._senders.get(charger_id)
        if sender is None:
            sender = self._senders[charger_id] = _LimitSender(self, charger_id)
        sender.want(limit.limit_a, limit.phases)

    def _fire_transitions(self, result: StepResult) -> None:
        for charger_id, limit in result.limits.items():
            before = self._previous.get(charger_id)
            # Paused by the balancer or the user; a charger without a car is not paused.
            was_paused = (
                before is not None and before.limit_a == 0 and before.reason in _PAUSED_REASONS
            )
            paused = limit.limit_a == 0 and limit.reason in _PAUSED_REASONS
            binding = self.layout.chargers.get(charger_id)
            if binding is None or was_paused == paused:
                continue
            data = {
                "charger_id": charger_id,
                "charge_point_id": binding.charge_point_id,
                "connector_id": binding.connector_id,
                "reason": limit.reason.value,
            }
            if paused:
                self.hass.bus.async_fire(EVENT_CHARGER_PAUSED, data)
            elif limit.limit_a > 0 and limit.reason is not Reason.OFFLINE:
                # An offline charger's worst case is no resumption.
                self.hass.bus.async_fire(EVENT_CHARGER_RESUMED, data)
        self._previous = result.limits
        failsafe = result.failsafe_nodes
        if self._meters_starting():
            failsafe = frozenset()  # no reading yet is not a lost meter; the engine is safe anyway
        for node_id in failsafe - self._failsafe_nodes:
            LOGGER.warning("Failsafe engaged for %s: its meter is lost", node_id)
            self.hass.bus.async_fire(EVENT_FAILSAFE, {"node_id": node_id, "engaged": True})
        for node_id in self._failsafe_nodes - failsafe:
            LOGGER.info("Failsafe released for %s: its meter is back", node_id)
            self.hass.bus.async_fire(EVENT_FAILSAFE, {"node_id": node_id, "engaged": False})
        self._failsafe_nodes = failsafe

    def _meters_starting(self) -> bool:
        """Whether a meter has not given its first reading yet, within its timeout."""
        waited_s = time.monotonic() - self._meters_started_at
        return waited_s < self.controller_settings.meter_timeout_s and any(
            source.reading is None for source in self.meters.values()
        )

    @callback
    def _trigger(self) -> None:
        """Run the loop at once (debounced), remembering when the trigger came."""
        if self._triggered_at is None:
            self._triggered_at = time.monotonic()
        self.hass.async_create_task(self.async_request_refresh(), eager_start=True)

    # --- meters ------------------------------------------------------------------------------

    async def _async_start_meters(self) -> None:
        """Start the meters the layout names that are not running with that configuration.

        A meter whose configuration did not change keeps running: restarting it would leave
        its node without a reading, on failsafe, for a cycle or more.
        """
        wanted = self.layout.meters
        for meter_id in [m for m in self.meters if self._meter_data.get(m) != wanted.get(m)]:
            await self._async_stop_meter(meter_id)
        for meter_id, data in wanted.items():
            if meter_id in self.meters:
                continue
            source = create_meter(
                self.hass,
                meter_id,
                data,
                self._modbus_pool,
                self.controller_settings.meter_timeout_s,
            )
            if source is None:
                continue
            self._meters_started_at = time.monotonic()
            self.meters[meter_id] = source
            self._meter_data[meter_id] = data
            self._meter_unsubs[meter_id] = source.add_listener(self._on_meter)
            await source.start()

    async def _async_stop_meters(self) -> None:
        for meter_id in list(self.meters):
            await self._async_stop_meter(meter_id)

    async def _async_stop_meter(self, meter_id: str) -> None:
        self._meter_unsubs.pop(meter_id)()
        self._meter_data.pop(meter_id, None)
        await self.meters.pop(meter_id).stop()

    @callback
    def _on_meter(self, source: MeterSource) -> None:
        issue_id = f"meter_lost_{source.meter_id}"
        if source.health is MeterHealth.HEALTHY:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        else:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="meter_lost",
                translation_placeholders={
                    "meter": source.describe(),
                    "problem": source.problem or "",
                },
            )
        if self._jumped(source):
            # Rising load and a lost meter are what the loop exists for: no waiting for the
            # cycle spacing, which only keeps ordinary readings from running it too often.
            self._refresh_debouncer.async_cancel()
        self._trigger()

    def _jumped(self, source: MeterSource) -> bool:
        """Whether the source lost its reading or rose by `JUMP_A` on a line since the cycle."""
        before = self._cycle_readings.get(source.meter_id)
        if before is None:
            return False
        reading = source.reading if source.health is MeterHealth.HEALTHY else None
        if reading is None or not before:
            return (reading is not None) != bool(before)
        return any(
            old is None or new - old >= JUMP_A
            for new, old in zip(reading.current_a, before, strict=False)
        )

    # --- chargers ----------------------------------------------------------------------------

    def _ocpp_settings(self) -> CentralSystemSettings:
        data = self.config_entry.data
        return CentralSystemSettings(
            host="0.0.0.0",  # noqa: S104 - chargers connect from the local network
            port=int(data[CONF_OCPP_PORT]),
            ssl_context=self._ssl_context,
            unknown_chargers=UnknownChargerPolicy(data[CONF_UNKNOWN_CHARGERS]),
            failsafe_current_a=float(data[CONF_FAILSAFE]),
            voltage_v=float(data[CONF_VOLTAGE]),
        )

    def _ocpp_charger_config(self, charge_point_id: str) -> OcppChargerConfig | None:
        bindings = [
            binding
            for binding in self.layout.chargers.values()
            if binding.charge_point_id == charge_point_id
        ]
        if not bindings:
            return None
        # The base profile covers every connector: the lowest fallback of them all.
        fallback = self.controller.fallback_a
        return OcppChargerConfig(
            password=bindings[0].password,
            failsafe_current_a=min(fallback.get(b.charger_id, 0.0) for b in bindings),
        )

    @callback
    def _on_charger_event(self, event: ChargerEvent) -> None:
        if event.type is EventType.PENDING:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                f"pending_charger_{event.charge_point_id}",
                is_fixable=True,
                severity=ir.IssueSeverity.WARNING,
                translation_key="pending_charger",
                translation_placeholders={"charge_point_id": event.charge_point_id},
                data={
                    "entry_id": self.config_entry.entry_id,
                    "charge_point_id": event.charge_point_id,
                },
            )
            return
        if event.type is EventType.BOOTED:
            self._describe_charger(event.charge_point_id)
        self._trigger()

    def _describe_charger(self, charge_point_id: str) -> None:
        """Show on the charger's device what its BootNotification said it is."""
        state = self.central.chargers.get(charge_point_id)
        if state is None:
            return
        registry = dr.async_get(self.hass)
        subentries = self.config_entry.subentries
        for charger_id, binding in self.layout.chargers.items():
            subentry = subentries.get(charger_id)
            if binding.charge_point_id != charge_point_id or subentry is None:
                continue
            device = registry.async_get_device_by_identifier(
                (DOMAIN, subentry.unique_id or charger_id), self.config_entry.entry_id
            )
            if device is not None:
                registry.async_update_device(
                    device.id,
                    manufacturer=state.vendor or device.manufacturer,
                    model_id=state.model,
                    serial_number=state.serial_number,
                    sw_version=state.firmware_version,
                )

    async def _async_admit_adopted(self) -> None:
        """A pending charger that was just added registers again, now as a known one."""
        configured = {binding.charge_point_id for binding in self.layout.chargers.values()}
        for charge_point_id, state in self.central.chargers.items():
            if charge_point_id in configured and state.registration is Registration.PENDING:
                ir.async_delete_issue(self.hass, DOMAIN, f"pending_charger_{charge_point_id}")
                await self.central.disconnect(charge_point_id)

    def charger_state(self, charger_id: str) -> ChargerState | None:
        """The OCPP state of a configured charger, if it ever connected."""
        binding = self.layout.chargers.get(charger_id)
        return None if binding is None else self.central.chargers.get(binding.charge_point_id)

    def report_limit_outcome(
        self, charger_id: str, result: LimitResult, reason: str | None
    ) -> None:
        """Raise or clear the repair issue for a charger that refuses its limits."""
        issue_id = f"profile_rejected_{charger_id}"
        if result is LimitResult.REJECTED:
            binding = self.layout.chargers[charger_id]
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="profile_rejected",
                translation_placeholders={
                    "charger": binding.name,
                    "reason": reason or "no reason given",
                },
            )
        elif result is LimitResult.ACCEPTED:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def _update_orphan_issue(self) -> None:
        if self.layout.orphans:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                "orphan_chargers",
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="orphan_chargers",
                translation_placeholders={
                    "chargers": ", ".join(
                        self.layout.chargers[c].name for c in sorted(self.layout.orphans)
                    )
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, "orphan_chargers")


class _LimitSender:
    """Delivers the latest wanted limit to one charger, one request at a time.

    A slow or silent charger must not hold up the loop for the others, and a newer value
    (above all a lower one) replaces an older one that has not gone out yet.
    """

    def __init__(self, coordinator: SiteCoordinator, charger_id: str) -> None:
        self._coordinator = coordinator
        self._charger_id = charger_id
        self._wanted: tuple[float, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def want(self, limit_a: float, phases: int) -> None:
        self._wanted = (limit_a, phases)
        if self._task is None or self._task.done():
            self._task = self._coordinator.config_entry.async_create_background_task(
                self._coordinator.hass, self._run(), f"{DOMAIN} limit {self._charger_id}"
            )

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while self._wanted is not None:
            limit_a, phases = self._wanted
            self._wanted = None
            binding = self._coordinator.layout.chargers.get(self._charger_id)
            if binding is None:
                return
            outcome = await self._coordinator.central.apply_limit(
                binding.charge_point_id, binding.connector_id, limit_a, phases
            )
            self._coordinator.report_limit_outcome(self._charger_id, outcome.result, outcome.reason)
