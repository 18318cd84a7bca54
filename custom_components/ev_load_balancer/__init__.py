"""The EV Load Balancer integration: keeps the main fuse safe while EV chargers charge."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant


@dataclass
class RuntimeData:
    """What a loaded site keeps while it runs."""


type EvLoadBalancerConfigEntry = ConfigEntry[RuntimeData]


async def async_setup_entry(hass: HomeAssistant, entry: EvLoadBalancerConfigEntry) -> bool:
    """Set up a site from a config entry."""
    entry.runtime_data = RuntimeData()
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EvLoadBalancerConfigEntry) -> bool:
    """Unload a site."""
    return True
