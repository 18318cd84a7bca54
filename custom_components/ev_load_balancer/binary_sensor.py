"""Binary sensors: charger connected, failsafe per node, meter lost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import EvLoadBalancerConfigEntry
from .balancing.model import SITE_NODE_ID
from .const import SUBENTRY_CHARGER, SUBENTRY_GROUP, SUBENTRY_METER
from .coordinator import SiteCoordinator
from .entity import EvLoadBalancerEntity, async_add_site_entities
from .meters import MeterHealth
from .site_layout import MAIN_METER_ID

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvLoadBalancerBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no state of a charger, a node or a meter."""

    is_on_fn: Callable[[SiteCoordinator, str], bool | None]


def _connected(coordinator: SiteCoordinator, charger_id: str) -> bool:
    state = coordinator.charger_state(charger_id)
    return state is not None and state.connected


def _failsafe(coordinator: SiteCoordinator, node_id: str) -> bool:
    return node_id in coordinator.data.result.failsafe_nodes


def _meter_lost(coordinator: SiteCoordinator, meter_id: str) -> bool:
    source = coordinator.meters.get(meter_id)
    return source is None or source.health is not MeterHealth.HEALTHY


CONNECTED = EvLoadBalancerBinarySensorDescription(
    key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
    is_on_fn=_connected,
)
FAILSAFE = EvLoadBalancerBinarySensorDescription(
    key="failsafe",
    translation_key="failsafe",
    device_class=BinarySensorDeviceClass.PROBLEM,
    is_on_fn=_failsafe,
)
METER_LOST = EvLoadBalancerBinarySensorDescription(
    key="stale",
    translation_key="stale",
    device_class=BinarySensorDeviceClass.PROBLEM,
    entity_category=EntityCategory.DIAGNOSTIC,
    is_on_fn=_meter_lost,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvLoadBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of the site and of every group, charger and meter."""
    coordinator = entry.runtime_data.coordinator
    site: list[Entity] = [EvLoadBalancerBinarySensor(coordinator, SITE_NODE_ID, FAILSAFE)]
    if MAIN_METER_ID in coordinator.layout.meters:
        site.append(EvLoadBalancerBinarySensor(coordinator, MAIN_METER_ID, METER_LOST))

    def subentry_binary_sensors(subentry_id: str) -> list[Entity]:
        description = {
            SUBENTRY_CHARGER: CONNECTED,
            SUBENTRY_GROUP: FAILSAFE,
            SUBENTRY_METER: METER_LOST,
        }[entry.subentries[subentry_id].subentry_type]
        return [EvLoadBalancerBinarySensor(coordinator, subentry_id, description)]

    async_add_site_entities(coordinator, async_add_entities, site, subentry_binary_sensors)


class EvLoadBalancerBinarySensor(EvLoadBalancerEntity, BinarySensorEntity):
    """A yes/no state of a charger, a node or a meter."""

    entity_description: EvLoadBalancerBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The state from the last cycle."""
        return self.entity_description.is_on_fn(self.coordinator, self.subject_id)
