"""The EV Load Balancer integration: keeps the main fuse safe while EV chargers charge."""

from __future__ import annotations

from dataclasses import dataclass
import ssl

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import SiteCoordinator, load_ssl_context, site_store
from .entity import site_device
from .services import async_setup_services

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


@dataclass
class RuntimeData:
    """What a loaded site keeps while it runs."""

    coordinator: SiteCoordinator


type EvLoadBalancerConfigEntry = ConfigEntry[RuntimeData]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, once for all sites."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EvLoadBalancerConfigEntry) -> bool:
    """Start a site: its meters, its OCPP server and the balancing loop."""
    try:
        ssl_context = await hass.async_add_executor_job(load_ssl_context, entry)
    except (OSError, ssl.SSLError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="tls_files_unusable",
            translation_placeholders={"error": str(err)},
        ) from err
    coordinator = SiteCoordinator(hass, entry, ssl_context)
    try:
        await coordinator.async_start()
    except OSError as err:
        await coordinator.async_stop()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="ocpp_port_unavailable",
            translation_placeholders={"error": str(err)},
        ) from err
    await coordinator.async_config_entry_first_refresh()
    site = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **site_device(entry)
    )
    coordinator.site_device_id = site.id
    entry.runtime_data = RuntimeData(coordinator=coordinator)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_entry_updated(hass: HomeAssistant, entry: EvLoadBalancerConfigEntry) -> None:
    """Subentries changed: apply in place; the site's own settings changed: restart it."""
    coordinator = entry.runtime_data.coordinator
    if coordinator.needs_restart():
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    await coordinator.async_apply_config()


async def async_unload_entry(hass: HomeAssistant, entry: EvLoadBalancerConfigEntry) -> bool:
    """Stop a site; leaves no port, task or timer behind."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.coordinator.async_stop()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: EvLoadBalancerConfigEntry) -> None:
    """Forget what the site kept across restarts."""
    await site_store(hass, entry.entry_id).async_remove()
