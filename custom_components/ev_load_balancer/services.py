"""Actions for automations: priorities, limits, pausing chargers, the strategy."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
import probatio as vol

from .balancing.model import SITE_NODE_ID, Strategy
from .const import CONF_FUSE, CONF_LIMIT, DOMAIN, SUBENTRY_CHARGER, SUBENTRY_GROUP

if TYPE_CHECKING:
    from .coordinator import SiteCoordinator

ATTR_DEVICE_ID = "device_id"
ATTR_PRIORITY = "priority"
ATTR_LIMIT = "limit_a"
ATTR_STRATEGY = "strategy"

SERVICE_SET_PRIORITY = "set_priority"
SERVICE_SET_LIMIT = "set_limit"
SERVICE_PAUSE = "pause_charger"
SERVICE_RESUME = "resume_charger"
SERVICE_SET_STRATEGY = "set_strategy"


def _resolve(hass: HomeAssistant, device_id: str) -> tuple[SiteCoordinator, str, str]:
    """The site, the subject id and its kind ("site", "group", "charger") of a device."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_device",
            translation_placeholders={"device_id": device_id},
        )
    entry = hass.config_entries.async_get_entry(device.config_entry_id or "")
    if entry is not None and entry.domain == DOMAIN:
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="site_not_loaded",
                translation_placeholders={"site": entry.title},
            )
        coordinator: SiteCoordinator = entry.runtime_data.coordinator
        subentry_id = device.config_subentry_id
        if subentry_id is None and (DOMAIN, entry.entry_id) in device.identifiers:
            return coordinator, SITE_NODE_ID, "site"
        if subentry_id is not None and subentry_id in entry.subentries:
            subentry_type = entry.subentries[subentry_id].subentry_type
            if subentry_type in (SUBENTRY_CHARGER, SUBENTRY_GROUP):
                return coordinator, subentry_id, subentry_type
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_device",
        translation_placeholders={"device_id": device_id},
    )


def _charger(hass: HomeAssistant, call: ServiceCall) -> tuple[SiteCoordinator, str]:
    coordinator, subject_id, kind = _resolve(hass, call.data[ATTR_DEVICE_ID])
    if kind != SUBENTRY_CHARGER:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_a_charger")
    return coordinator, subject_id


async def _set_priority(hass: HomeAssistant, call: ServiceCall) -> None:
    coordinator, charger_id = _charger(hass, call)
    await coordinator.async_update_settings(priorities={charger_id: call.data[ATTR_PRIORITY]})


async def _pause(hass: HomeAssistant, call: ServiceCall) -> None:
    coordinator, charger_id = _charger(hass, call)
    await coordinator.async_update_settings(enabled={charger_id: False})


async def _resume(hass: HomeAssistant, call: ServiceCall) -> None:
    coordinator, charger_id = _charger(hass, call)
    await coordinator.async_update_settings(enabled={charger_id: True})


async def _set_limit(hass: HomeAssistant, call: ServiceCall) -> None:
    coordinator, node_id, kind = _resolve(hass, call.data[ATTR_DEVICE_ID])
    if kind == SUBENTRY_CHARGER:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_a_group")
    entry = coordinator.config_entry
    wired_a = float(
        entry.data[CONF_FUSE] if kind == "site" else entry.subentries[node_id].data[CONF_LIMIT]
    )
    limit_a: float = call.data[ATTR_LIMIT]
    if limit_a > wired_a:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="limit_above_wired",
            translation_placeholders={"limit": f"{limit_a:g}", "wired": f"{wired_a:g}"},
        )
    await coordinator.async_update_settings(limits_a={node_id: limit_a})


async def _set_strategy(hass: HomeAssistant, call: ServiceCall) -> None:
    coordinator, _, kind = _resolve(hass, call.data[ATTR_DEVICE_ID])
    if kind != "site":
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_a_site")
    await coordinator.async_update_settings(strategy=Strategy(call.data[ATTR_STRATEGY]))


_DEVICE = {vol.Required(ATTR_DEVICE_ID): cv.string}
_SERVICES: dict[str, tuple[Any, vol.Schema]] = {
    SERVICE_SET_PRIORITY: (
        _set_priority,
        vol.Schema({**_DEVICE, vol.Required(ATTR_PRIORITY): vol.All(int, vol.Range(0, 9))}),
    ),
    SERVICE_PAUSE: (_pause, vol.Schema(_DEVICE)),
    SERVICE_RESUME: (_resume, vol.Schema(_DEVICE)),
    SERVICE_SET_LIMIT: (
        _set_limit,
        vol.Schema(
            {**_DEVICE, vol.Required(ATTR_LIMIT): vol.All(vol.Coerce(float), vol.Range(min=0))}
        ),
    ),
    SERVICE_SET_STRATEGY: (
        _set_strategy,
        vol.Schema({**_DEVICE, vol.Required(ATTR_STRATEGY): vol.In([s.value for s in Strategy])}),
    ),
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of the integration."""
    for name, (handler, schema) in _SERVICES.items():
        hass.services.async_register(DOMAIN, name, partial(handler, hass), schema=schema)
