"""Config flow for EV Load Balancer: the site, and its chargers, groups and meters as subentries."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
import socket
import ssl
from typing import Any, override

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers import selector
import probatio as vol

from .const import (
    CONF_BAUDRATE,
    CONF_CERTFILE,
    CONF_CHARGE_POINT_ID,
    CONF_CONNECTOR_ID,
    CONF_CURRENT_ENTITIES,
    CONF_DEVICE,
    CONF_FAILSAFE,
    CONF_FRAMING,
    CONF_FUSE,
    CONF_GRID,
    CONF_GROUP,
    CONF_INCLUDES_CHARGERS,
    CONF_KEYFILE,
    CONF_LIMIT,
    CONF_MARGIN,
    CONF_MAX_CHANGES,
    CONF_MAX_CURRENT,
    CONF_METER,
    CONF_METER_ID,
    CONF_METER_TIMEOUT,
    CONF_METER_TYPE,
    CONF_MIN_CURRENT,
    CONF_MODEL,
    CONF_OCPP_PORT,
    CONF_PARENT,
    CONF_PHASES,
    CONF_POWER_ENTITIES,
    CONF_PRIORITY,
    CONF_RESERVE,
    CONF_ROTATION_MINUTES,
    CONF_SETTLE,
    CONF_UNIT_ID,
    CONF_UNKNOWN_CHARGERS,
    CONF_VOLTAGE,
    CONF_VOLTAGE_ENTITIES,
    CONF_WIRING,
    DEFAULT_BAUDRATE,
    DEFAULT_FAILSAFE_A,
    DEFAULT_FUSE_A,
    DEFAULT_MARGIN_A,
    DEFAULT_MODBUS_PORT,
    DEFAULT_MODBUS_UNIT_ID,
    DEFAULT_OCPP_PORT,
    DEFAULT_VOLTAGE_V,
    DOMAIN,
    SITE,
    SUBENTRY_CHARGER,
    SUBENTRY_GROUP,
    SUBENTRY_METER,
    Framing,
    Grid,
    MeterType,
    UnknownChargers,
)
from .meter_setup import async_check_modbus_meter, modbus_model_options
from .meters import MeterError
from .site_layout import controller_settings

WIRINGS_3_PHASE = ("L1L2L3", "L2L3L1", "L3L1L2", "L1L3L2", "L2L1L3", "L3L2L1")
WIRINGS_1_PHASE_TN = ("L1", "L2", "L3")
WIRINGS_1_PHASE_IT = ("L1L2", "L2L3", "L1L3")


def _amps(minimum: float, maximum: float, step: float = 1) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=step,
            mode=selector.NumberSelectorMode.BOX,
            unit_of_measurement="A",
        )
    )


def _choice(options: list[str], key: str | None = None) -> selector.SelectSelector:
    config = selector.SelectSelectorConfig(
        options=options, mode=selector.SelectSelectorMode.DROPDOWN
    )
    if key is not None:
        config["translation_key"] = key
    return selector.SelectSelector(config)


PORT_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
)

SITE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME): selector.TextSelector(),
        vol.Required(CONF_GRID): _choice([g.value for g in Grid], CONF_GRID),
        vol.Required(CONF_PHASES): _choice(["1", "3"], CONF_PHASES),
        vol.Required(CONF_VOLTAGE): selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=100, max=400, mode=selector.NumberSelectorMode.BOX, unit_of_measurement="V"
            )
        ),
        vol.Required(CONF_FUSE): _amps(6, 4000),
        vol.Required(CONF_MARGIN): _amps(0, 100, 0.5),
        vol.Required(CONF_RESERVE): _amps(0, 100, 0.5),
        vol.Required(CONF_FAILSAFE): _amps(0, 80, 0.5),
    }
)
SITE_DEFAULTS: dict[str, Any] = {
    CONF_NAME: "Home",
    CONF_GRID: Grid.TN.value,
    CONF_PHASES: "3",
    CONF_VOLTAGE: DEFAULT_VOLTAGE_V,
    CONF_FUSE: DEFAULT_FUSE_A,
    CONF_MARGIN: DEFAULT_MARGIN_A,
    CONF_RESERVE: 0.0,
    CONF_FAILSAFE: DEFAULT_FAILSAFE_A,
}

OCPP_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_OCPP_PORT): PORT_SELECTOR,
        vol.Required(CONF_UNKNOWN_CHARGERS): _choice(
            [u.value for u in UnknownChargers], CONF_UNKNOWN_CHARGERS
        ),
        vol.Optional(CONF_CERTFILE): selector.TextSelector(),
        vol.Optional(CONF_KEYFILE): selector.TextSelector(),
    }
)
OCPP_DEFAULTS: dict[str, Any] = {
    CONF_OCPP_PORT: DEFAULT_OCPP_PORT,
    CONF_UNKNOWN_CHARGERS: UnknownChargers.PENDING.value,
}

METER_TYPES = [t.value for t in MeterType]


def _modbus_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_MODEL): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=modbus_model_options(), mode=selector.SelectSelectorMode.DROPDOWN
                )
            ),
            vol.Required(CONF_FRAMING): _choice([f.value for f in Framing], CONF_FRAMING),
            vol.Optional(CONF_HOST): selector.TextSelector(),
            vol.Optional(CONF_PORT): PORT_SELECTOR,
            vol.Optional(CONF_DEVICE): selector.TextSelector(),
            vol.Optional(CONF_BAUDRATE): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1200, max=115200, mode=selector.NumberSelectorMode.BOX
                )
            ),
            vol.Required(CONF_UNIT_ID): selector.NumberSelector(
                selector.NumberSelectorConfig(min=1, max=247, mode=selector.NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_INCLUDES_CHARGERS): selector.BooleanSelector(),
        }
    )


MODBUS_DEFAULTS: dict[str, Any] = {
    CONF_FRAMING: Framing.TCP.value,
    CONF_PORT: DEFAULT_MODBUS_PORT,
    CONF_BAUDRATE: DEFAULT_BAUDRATE,
    CONF_UNIT_ID: DEFAULT_MODBUS_UNIT_ID,
    CONF_INCLUDES_CHARGERS: True,
}

_SENSOR_PICKER = selector.EntitySelector(
    selector.EntitySelectorConfig(domain="sensor", multiple=True)
)
SENSORS_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_CURRENT_ENTITIES): _SENSOR_PICKER,
        vol.Optional(CONF_POWER_ENTITIES): _SENSOR_PICKER,
        vol.Optional(CONF_VOLTAGE_ENTITIES): _SENSOR_PICKER,
        vol.Required(CONF_INCLUDES_CHARGERS): selector.BooleanSelector(),
    }
)
SENSORS_DEFAULTS: dict[str, Any] = {CONF_INCLUDES_CHARGERS: True}


def _port_is_free(port: int) -> bool:
    """Whether the OCPP server could listen on this port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def _tls_error(certfile: str | None, keyfile: str | None) -> str | None:
    """Check a certificate and key pair; the error key, or None when usable (or both absent)."""
    if not certfile and not keyfile:
        return None
    if not certfile or not keyfile:
        return "tls_incomplete"
    if not Path(certfile).is_file() or not Path(keyfile).is_file():
        return "tls_not_found"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except ssl.SSLError, OSError:
        return "tls_invalid"
    return None


def _site_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if user_input[CONF_FAILSAFE] > user_input[CONF_FUSE]:
        errors[CONF_FAILSAFE] = "failsafe_above_fuse"
    if user_input[CONF_MARGIN] + user_input[CONF_RESERVE] >= user_input[CONF_FUSE]:
        errors[CONF_MARGIN] = "margin_too_large"
    return errors


def _sensor_meter_errors(user_input: Mapping[str, Any], phases: int) -> dict[str, str]:
    currents = user_input.get(CONF_CURRENT_ENTITIES) or []
    powers = user_input.get(CONF_POWER_ENTITIES) or []
    voltages = user_input.get(CONF_VOLTAGE_ENTITIES) or []
    if currents:
        if powers or voltages:
            return {"base": "sensors_mixed"}
        if len(currents) != phases:
            return {CONF_CURRENT_ENTITIES: "sensors_count"}
        return {}
    if not powers:
        return {"base": "sensors_missing"}
    if len(powers) != phases:
        return {CONF_POWER_ENTITIES: "sensors_count"}
    if len(voltages) != phases:
        return {CONF_VOLTAGE_ENTITIES: "sensors_count"}
    return {}


def _modbus_field_errors(user_input: Mapping[str, Any]) -> dict[str, str]:
    if user_input[CONF_FRAMING] == Framing.SERIAL:
        return {} if user_input.get(CONF_DEVICE) else {CONF_DEVICE: "device_required"}
    return {} if user_input.get(CONF_HOST) else {CONF_HOST: "host_required"}


def _normalise_modbus(user_input: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_METER_TYPE: MeterType.MODBUS.value,
        CONF_MODEL: user_input[CONF_MODEL],
        CONF_FRAMING: user_input[CONF_FRAMING],
        CONF_UNIT_ID: int(user_input[CONF_UNIT_ID]),
        CONF_INCLUDES_CHARGERS: user_input[CONF_INCLUDES_CHARGERS],
    }
    if user_input[CONF_FRAMING] == Framing.SERIAL:
        data[CONF_DEVICE] = user_input[CONF_DEVICE]
        data[CONF_BAUDRATE] = int(user_input.get(CONF_BAUDRATE, DEFAULT_BAUDRATE))
    else:
        data[CONF_HOST] = user_input[CONF_HOST]
        data[CONF_PORT] = int(user_input.get(CONF_PORT, DEFAULT_MODBUS_PORT))
    return data


def _normalise_sensors(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_METER_TYPE: MeterType.SENSORS.value,
        CONF_CURRENT_ENTITIES: list(user_input.get(CONF_CURRENT_ENTITIES) or []),
        CONF_POWER_ENTITIES: list(user_input.get(CONF_POWER_ENTITIES) or []),
        CONF_VOLTAGE_ENTITIES: list(user_input.get(CONF_VOLTAGE_ENTITIES) or []),
        CONF_INCLUDES_CHARGERS: user_input[CONF_INCLUDES_CHARGERS],
    }


CHARGERS_METER: dict[str, Any] = {
    CONF_METER_TYPE: MeterType.CHARGERS.value,
    CONF_INCLUDES_CHARGERS: True,
}


async def _modbus_meter_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Read the meter once: the error to show, or none."""
    try:
        await async_check_modbus_meter(data)
    except MeterError as err:
        return {"base": err.reason}
    return {}


def _seconds(minimum: float, maximum: float, unit: str = "s") -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum, max=maximum, mode=selector.NumberSelectorMode.BOX, unit_of_measurement=unit
        )
    )


OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_SETTLE): _seconds(0, 300),
        vol.Required(CONF_METER_TIMEOUT): _seconds(2, 600),
        vol.Required(CONF_ROTATION_MINUTES): _seconds(1, 240, "min"),
        vol.Required(CONF_MAX_CHANGES): selector.NumberSelector(
            selector.NumberSelectorConfig(min=1, max=3600, mode=selector.NumberSelectorMode.BOX)
        ),
    }
)


class EvLoadBalancerOptionsFlow(OptionsFlow):
    """Tune the balancing loop: how fast it raises, rotates and gives up on a meter."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the tuning with what is in force."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        settings = controller_settings(self.config_entry.options)
        current = {
            CONF_SETTLE: settings.settle_s,
            CONF_METER_TIMEOUT: settings.meter_timeout_s,
            CONF_ROTATION_MINUTES: settings.rotation_interval_s / 60,
            CONF_MAX_CHANGES: settings.max_changes_per_hour,
        }
        return self.async_show_form(
            step_id="init", data_schema=self.add_suggested_values_to_schema(OPTIONS_SCHEMA, current)
        )


class EvLoadBalancerConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up (or reconfigure) a site: its connection, OCPP server and main meter."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing collected."""
        self._data: dict[str, Any] = {}
        self._phases = 3

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> EvLoadBalancerOptionsFlow:
        """Tuning of the balancing loop."""
        return EvLoadBalancerOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Chargers, groups and extra meters live as subentries of a site."""
        return {
            SUBENTRY_CHARGER: ChargerSubentryFlow,
            SUBENTRY_GROUP: GroupSubentryFlow,
            SUBENTRY_METER: MeterSubentryFlow,
        }

    def _suggested(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            return {**defaults, **entry.data, **entry.data.get(CONF_METER, {})}
        return dict(defaults)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the site's electrical connection."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _site_errors(user_input)
            if not errors:
                self._data.update(user_input)
                self._data[CONF_PHASES] = int(user_input[CONF_PHASES])
                self._phases = self._data[CONF_PHASES]
                return await self.async_step_ocpp()
        suggested = self._suggested(SITE_DEFAULTS)
        suggested[CONF_PHASES] = str(suggested[CONF_PHASES])
        return self.async_show_form(
            step_id="user" if self.source != SOURCE_RECONFIGURE else "reconfigure",
            data_schema=self.add_suggested_values_to_schema(SITE_SCHEMA, user_input or suggested),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change any setting of the site."""
        return await self.async_step_user(user_input)

    async def async_step_ocpp(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask where chargers connect and how they are authenticated."""
        errors: dict[str, str] = {}
        if user_input is not None:
            port = int(user_input[CONF_OCPP_PORT])
            reconfiguring = self.source == SOURCE_RECONFIGURE
            unchanged = (
                reconfiguring and self._get_reconfigure_entry().data.get(CONF_OCPP_PORT) == port
            )
            if not reconfiguring:
                self._async_abort_entries_match({CONF_OCPP_PORT: port})
            if not unchanged and not await asyncio.to_thread(_port_is_free, port):
                errors[CONF_OCPP_PORT] = "port_in_use"
            certfile = user_input.get(CONF_CERTFILE) or None
            keyfile = user_input.get(CONF_KEYFILE) or None
            if tls_error := await asyncio.to_thread(_tls_error, certfile, keyfile):
                errors[CONF_CERTFILE] = tls_error
            if not errors:
                self._data[CONF_OCPP_PORT] = port
                self._data[CONF_UNKNOWN_CHARGERS] = user_input[CONF_UNKNOWN_CHARGERS]
                self._data[CONF_CERTFILE] = certfile
                self._data[CONF_KEYFILE] = keyfile
                return await self.async_step_meter()
        return self.async_show_form(
            step_id="ocpp",
            data_schema=self.add_suggested_values_to_schema(
                OCPP_SCHEMA, user_input or self._suggested(OCPP_DEFAULTS)
            ),
            errors=errors,
        )

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask where the main meter's readings come from."""
        return self.async_show_menu(step_id="meter", menu_options=METER_TYPES)

    async def async_step_modbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A Modbus meter: tested before it is saved."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _modbus_field_errors(user_input)
            if not errors:
                meter = _normalise_modbus(user_input)
                errors = await _modbus_meter_errors(meter)
                if not errors:
                    return self._async_finish(meter)
        return self.async_show_form(
            step_id="modbus",
            data_schema=self.add_suggested_values_to_schema(
                _modbus_schema(), user_input or self._suggested(MODBUS_DEFAULTS)
            ),
            errors=errors,
        )

    async def async_step_sensors(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Home Assistant sensors as the meter: currents, or powers (and voltages)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _sensor_meter_errors(user_input, self._phases)
            if not errors:
                return self._async_finish(_normalise_sensors(user_input))
        return self.async_show_form(
            step_id="sensors",
            data_schema=self.add_suggested_values_to_schema(
                SENSORS_SCHEMA, user_input or self._suggested(SENSORS_DEFAULTS)
            ),
            errors=errors,
        )

    async def async_step_chargers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """No grid meter: the chargers' own meter values measure the site."""
        return self._async_finish(CHARGERS_METER)

    def _async_finish(self, meter: dict[str, Any]) -> ConfigFlowResult:
        data = {**self._data, CONF_METER: meter}
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), title=data[CONF_NAME], data=data
            )
        return self.async_create_entry(title=data[CONF_NAME], data=data)


class MeterSubentryFlow(ConfigSubentryFlow):
    """An extra meter, for a group (sub-panel) that has its own."""

    @property
    def _phases(self) -> int:
        return int(self._get_entry().data[CONF_PHASES])

    def _suggested(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        if self.source == SOURCE_RECONFIGURE:
            return {**defaults, **self._get_reconfigure_subentry().data}
        return dict(defaults)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask what kind of meter it is."""
        return self.async_show_menu(step_id="user", menu_options=METER_TYPES[:2])

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the meter (its kind stays)."""
        if self._get_reconfigure_subentry().data[CONF_METER_TYPE] == MeterType.MODBUS:
            return await self.async_step_modbus()
        return await self.async_step_sensors()

    async def async_step_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A Modbus meter: tested before it is saved."""
        errors: dict[str, str] = {}
        schema = _modbus_schema().extend({vol.Required(CONF_NAME): selector.TextSelector()})
        if user_input is not None:
            errors = _modbus_field_errors(user_input)
            if not errors:
                meter = _normalise_modbus(user_input)
                errors = await _modbus_meter_errors(meter)
                if not errors:
                    return self._async_finish(user_input[CONF_NAME], meter)
        return self.async_show_form(
            step_id="modbus",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or self._suggested(MODBUS_DEFAULTS)
            ),
            errors=errors,
        )

    async def async_step_sensors(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Home Assistant sensors as the meter."""
        errors: dict[str, str] = {}
        schema = SENSORS_SCHEMA.extend({vol.Required(CONF_NAME): selector.TextSelector()})
        if user_input is not None:
            errors = _sensor_meter_errors(user_input, self._phases)
            if not errors:
                return self._async_finish(user_input[CONF_NAME], _normalise_sensors(user_input))
        return self.async_show_form(
            step_id="sensors",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or self._suggested(SENSORS_DEFAULTS)
            ),
            errors=errors,
        )

    def _async_finish(self, name: str, meter: dict[str, Any]) -> SubentryFlowResult:
        data = {**meter, CONF_NAME: name}
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_and_abort(
                self._get_entry(), self._get_reconfigure_subentry(), title=name, data=data
            )
        return self.async_create_entry(title=name, data=data)


def _group_options(
    entry: ConfigEntry, exclude: str | None = None
) -> list[selector.SelectOptionDict]:
    """The site and every group, as choices for a parent or a charger's group."""
    options = [selector.SelectOptionDict(value=SITE, label=entry.title)]
    options.extend(
        selector.SelectOptionDict(value=subentry_id, label=subentry.title)
        for subentry_id, subentry in entry.subentries.items()
        if subentry.subentry_type == SUBENTRY_GROUP and subentry_id != exclude
    )
    return options


def _descendants(entry: ConfigEntry, group_id: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for subentry_id, subentry in entry.subentries.items():
        if subentry.subentry_type == SUBENTRY_GROUP:
            children.setdefault(subentry.data[CONF_PARENT], []).append(subentry_id)
    found: set[str] = set()
    stack = [group_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


class GroupSubentryFlow(ConfigSubentryFlow):
    """A group: a sub-panel or circuit with its own per-phase limit."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a group."""
        return await self._async_step_group("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a group."""
        return await self._async_step_group("reconfigure", user_input)

    async def _async_step_group(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        own_id = self._reconfigure_subentry_id if self.source == SOURCE_RECONFIGURE else None
        errors: dict[str, str] = {}
        if user_input is not None:
            parent = user_input[CONF_PARENT]
            if own_id is not None and (parent == own_id or parent in _descendants(entry, own_id)):
                errors[CONF_PARENT] = "parent_cycle"
            elif user_input[CONF_LIMIT] > entry.data[CONF_FUSE]:
                errors[CONF_LIMIT] = "limit_above_fuse"
            else:
                data = {
                    CONF_PARENT: parent,
                    CONF_LIMIT: float(user_input[CONF_LIMIT]),
                    CONF_METER_ID: user_input.get(CONF_METER_ID) or None,
                }
                if own_id is not None:
                    return self.async_update_and_abort(
                        entry,
                        self._get_reconfigure_subentry(),
                        title=user_input[CONF_NAME],
                        data=data,
                    )
                return self.async_create_entry(title=user_input[CONF_NAME], data=data)
        meters = [
            selector.SelectOptionDict(value=subentry_id, label=subentry.title)
            for subentry_id, subentry in entry.subentries.items()
            if subentry.subentry_type == SUBENTRY_METER
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME): selector.TextSelector(),
                vol.Required(CONF_PARENT): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=_group_options(entry, own_id))
                ),
                vol.Required(CONF_LIMIT): _amps(1, 4000),
                vol.Optional(CONF_METER_ID): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=meters)
                ),
            }
        )
        suggested: dict[str, Any] = {CONF_PARENT: SITE}
        if own_id is not None:
            subentry = self._get_reconfigure_subentry()
            suggested = {**subentry.data, CONF_NAME: subentry.title}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or suggested),
            errors=errors,
        )


def _wiring_errors(phases: int, wiring: str, grid: str) -> dict[str, str]:
    allowed: tuple[str, ...]
    if phases == 3:
        allowed = WIRINGS_3_PHASE
    else:
        allowed = WIRINGS_1_PHASE_IT if grid == Grid.IT else WIRINGS_1_PHASE_TN
    return {} if wiring in allowed else {CONF_WIRING: "wiring_mismatch"}


class ChargerSubentryFlow(ConfigSubentryFlow):
    """A charger (one connector of it): which group, wiring, limits and priority."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a charger."""
        return await self._async_step_charger("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a charger."""
        return await self._async_step_charger("reconfigure", user_input)

    async def _async_step_charger(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        reconfiguring = self.source == SOURCE_RECONFIGURE
        site_phases = int(entry.data[CONF_PHASES])
        errors: dict[str, str] = {}
        if user_input is not None:
            phases = int(user_input[CONF_PHASES])
            connector = int(user_input[CONF_CONNECTOR_ID])
            unique_id = f"{user_input[CONF_CHARGE_POINT_ID]}_{connector}"
            taken = {
                subentry.unique_id
                for subentry_id, subentry in entry.subentries.items()
                if subentry.subentry_type == SUBENTRY_CHARGER
                and not (reconfiguring and subentry_id == self._reconfigure_subentry_id)
            }
            if unique_id in taken:
                errors[CONF_CHARGE_POINT_ID] = "charger_exists"
            elif phases > site_phases:
                errors[CONF_PHASES] = "phases_above_site"
            elif user_input[CONF_MIN_CURRENT] > user_input[CONF_MAX_CURRENT]:
                errors[CONF_MIN_CURRENT] = "min_above_max"
            else:
                errors = _wiring_errors(phases, user_input[CONF_WIRING], entry.data[CONF_GRID])
            if not errors:
                data = {
                    CONF_CHARGE_POINT_ID: user_input[CONF_CHARGE_POINT_ID],
                    CONF_CONNECTOR_ID: connector,
                    CONF_GROUP: user_input[CONF_GROUP],
                    CONF_PHASES: phases,
                    CONF_WIRING: user_input[CONF_WIRING],
                    CONF_MIN_CURRENT: float(user_input[CONF_MIN_CURRENT]),
                    CONF_MAX_CURRENT: float(user_input[CONF_MAX_CURRENT]),
                    CONF_PRIORITY: int(user_input[CONF_PRIORITY]),
                    CONF_PASSWORD: user_input.get(CONF_PASSWORD) or None,
                }
                if reconfiguring:
                    return self.async_update_and_abort(
                        entry,
                        self._get_reconfigure_subentry(),
                        title=user_input[CONF_NAME],
                        unique_id=unique_id,
                        data=data,
                    )
                return self.async_create_entry(
                    title=user_input[CONF_NAME], data=data, unique_id=unique_id
                )
        wirings = list(WIRINGS_3_PHASE)
        wirings += WIRINGS_1_PHASE_IT if entry.data[CONF_GRID] == Grid.IT else WIRINGS_1_PHASE_TN
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME): selector.TextSelector(),
                vol.Required(CONF_CHARGE_POINT_ID): selector.TextSelector(),
                vol.Required(CONF_CONNECTOR_ID): selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=1, max=8, mode=selector.NumberSelectorMode.BOX
                    )
                ),
                vol.Required(CONF_GROUP): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=_group_options(entry))
                ),
                vol.Required(CONF_PHASES): _choice(["1", "3"], CONF_PHASES),
                vol.Required(CONF_WIRING): _choice(wirings),
                vol.Required(CONF_MIN_CURRENT): _amps(6, 80, 0.5),
                vol.Required(CONF_MAX_CURRENT): _amps(6, 80, 0.5),
                vol.Required(CONF_PRIORITY): selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=0, max=9, mode=selector.NumberSelectorMode.BOX
                    )
                ),
                vol.Optional(CONF_PASSWORD): selector.TextSelector(
                    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
                ),
            }
        )
        suggested: dict[str, Any] = {
            CONF_CONNECTOR_ID: 1,
            CONF_GROUP: SITE,
            CONF_PHASES: str(site_phases),
            CONF_WIRING: "L1L2L3" if site_phases == 3 else "L1",
            CONF_MIN_CURRENT: 6,
            CONF_MAX_CURRENT: 16,
            CONF_PRIORITY: 0,
        }
        if reconfiguring:
            subentry = self._get_reconfigure_subentry()
            suggested = {
                **subentry.data,
                CONF_NAME: subentry.title,
                CONF_PHASES: str(subentry.data[CONF_PHASES]),
            }
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or suggested),
            errors=errors,
        )
