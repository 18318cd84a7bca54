"""Select: the order within one priority level (equal share or first come)."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import EvLoadBalancerConfigEntry
from .balancing.model import SITE_NODE_ID, Strategy
from .entity import EvLoadBalancerEntity

PARALLEL_UPDATES = 0

STRATEGY = SelectEntityDescription(
    key="strategy",
    translation_key="strategy",
    options=[strategy.value for strategy in Strategy],
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvLoadBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's strategy."""
    async_add_entities(
        [EvLoadBalancerStrategySelect(entry.runtime_data.coordinator, SITE_NODE_ID, STRATEGY)]
    )


class EvLoadBalancerStrategySelect(EvLoadBalancerEntity, SelectEntity):
    """How chargers of the same priority share what is left."""

    @property
    def current_option(self) -> str:
        """The strategy in force."""
        return self.coordinator.settings.strategy.value

    async def async_select_option(self, option: str) -> None:
        """Switch strategy and rebalance at once."""
        await self.coordinator.async_update_settings(strategy=Strategy(option))
        self.async_write_ha_state()
