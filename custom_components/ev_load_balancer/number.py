"""Numbers: each charger's priority and each node's limit, for users and automations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import EvLoadBalancerConfigEntry
from .balancing.model import SITE_NODE_ID
from .const import CONF_FUSE, CONF_LIMIT, SUBENTRY_CHARGER, SUBENTRY_GROUP
from .coordinator import SiteCoordinator
from .entity import EvLoadBalancerEntity, async_add_site_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvLoadBalancerNumberDescription(NumberEntityDescription):
    """A setting of a charger or a node."""

    value_fn: Callable[[SiteCoordinator, str], float]
    set_fn: Callable[[SiteCoordinator, str, float], Awaitable[None]]


def _priority(coordinator: SiteCoordinator, charger_id: str) -> float:
    return next(c.priority for c in coordinator.layout.site.chargers if c.id == charger_id)


def _node_limit(coordinator: SiteCoordinator, node_id: str) -> float:
    return next(n.limit_a[0] for n in coordinator.layout.site.nodes if n.id == node_id)


PRIORITY = EvLoadBalancerNumberDescription(
    key="priority",
    translation_key="priority",
    native_min_value=0,
    native_max_value=9,
    native_step=1,
    mode=NumberMode.BOX,
    entity_category=EntityCategory.CONFIG,
    value_fn=_priority,
    set_fn=lambda coordinator, charger_id, value: coordinator.async_update_settings(
        priorities={charger_id: int(value)}
    ),
)


def _limit_description(max_a: float) -> EvLoadBalancerNumberDescription:
    return EvLoadBalancerNumberDescription(
        key="limit",
        translation_key="node_limit",
        device_class=NumberDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        native_min_value=0,
        native_max_value=max_a,
        native_step=0.5,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
        value_fn=_node_limit,
        set_fn=lambda coordinator, node_id, value: coordinator.async_update_settings(
            limits_a={node_id: float(value)}
        ),
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvLoadBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's limit, each group's limit and each charger's priority."""
    coordinator = entry.runtime_data.coordinator
    fuse_a = float(entry.data[CONF_FUSE])
    site: list[Entity] = [
        EvLoadBalancerNumber(coordinator, SITE_NODE_ID, _limit_description(fuse_a))
    ]

    def subentry_numbers(subentry_id: str) -> list[Entity]:
        subentry = entry.subentries[subentry_id]
        if subentry.subentry_type == SUBENTRY_CHARGER:
            return [EvLoadBalancerNumber(coordinator, subentry_id, PRIORITY)]
        if subentry.subentry_type == SUBENTRY_GROUP:
            # Never above what the installer wired: the configured limit is the breaker.
            description = _limit_description(float(subentry.data[CONF_LIMIT]))
            return [EvLoadBalancerNumber(coordinator, subentry_id, description)]
        return []

    async_add_site_entities(coordinator, async_add_entities, site, subentry_numbers)


class EvLoadBalancerNumber(EvLoadBalancerEntity, NumberEntity):
    """A priority or a limit."""

    entity_description: EvLoadBalancerNumberDescription

    @property
    def native_value(self) -> float:
        """The value in force."""
        return self.entity_description.value_fn(self.coordinator, self.subject_id)

    async def async_set_native_value(self, value: float) -> None:
        """Change it and rebalance at once."""
        await self.entity_description.set_fn(self.coordinator, self.subject_id, value)
        self.async_write_ha_state()
