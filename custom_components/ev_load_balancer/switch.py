"""Switches: whether each charger takes part (off pauses it)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import EvLoadBalancerConfigEntry
from .const import SUBENTRY_CHARGER
from .entity import EvLoadBalancerEntity, async_add_site_entities

PARALLEL_UPDATES = 0

ENABLED = SwitchEntityDescription(key="enabled", translation_key="enabled")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvLoadBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one switch per charger."""
    coordinator = entry.runtime_data.coordinator

    def subentry_switches(subentry_id: str) -> list[Entity]:
        if entry.subentries[subentry_id].subentry_type != SUBENTRY_CHARGER:
            return []
        return [EvLoadBalancerChargingSwitch(coordinator, subentry_id, ENABLED)]

    async_add_site_entities(coordinator, async_add_entities, [], subentry_switches)


class EvLoadBalancerChargingSwitch(EvLoadBalancerEntity, SwitchEntity):
    """On: the charger gets its share. Off: it is paused (0 A), the session is kept."""

    @property
    def is_on(self) -> bool:
        """Whether the charger takes part in balancing."""
        return self.coordinator.settings.enabled.get(self.subject_id, True)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Let the charger charge again."""
        await self.coordinator.async_update_settings(enabled={self.subject_id: True})
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Pause the charger."""
        await self.coordinator.async_update_settings(enabled={self.subject_id: False})
        self.async_write_ha_state()
