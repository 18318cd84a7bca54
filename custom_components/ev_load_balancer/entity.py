"""The base entity: one device per site, group, charger and meter of a site."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .balancing.model import SITE_NODE_ID
from .const import DOMAIN, SUBENTRY_CHARGER, SUBENTRY_GROUP, SUBENTRY_METER
from .coordinator import SiteCoordinator
from .site_layout import MAIN_METER_ID

MANUFACTURER = "EV Load Balancer"


def site_device(entry: ConfigEntry) -> DeviceInfo:
    """The site itself: its main fuse, strategy and failsafe."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        manufacturer=MANUFACTURER,
        model="Site",
        name=entry.title,
    )


def subject_device(entry: ConfigEntry, subject_id: str, site_device_id: str) -> DeviceInfo:
    """The device of the site, a group, a charger or a meter (by engine or meter id)."""
    if subject_id == SITE_NODE_ID:
        return site_device(entry)
    if subject_id == MAIN_METER_ID:
        return DeviceInfo(
            identifiers={(DOMAIN, f"{entry.entry_id}_{MAIN_METER_ID}")},
            manufacturer=MANUFACTURER,
            model="Main meter",
            name=f"{entry.title} meter",
            via_device_id=site_device_id,
        )
    subentry = entry.subentries[subject_id]
    if subentry.subentry_type == SUBENTRY_CHARGER:
        return DeviceInfo(
            identifiers={(DOMAIN, subentry.unique_id or subject_id)},
            manufacturer=MANUFACTURER,
            model="Charger",
            name=subentry.title,
            via_device_id=site_device_id,
        )
    model = {SUBENTRY_GROUP: "Group", SUBENTRY_METER: "Meter"}[subentry.subentry_type]
    return DeviceInfo(
        identifiers={(DOMAIN, subject_id)},
        manufacturer=MANUFACTURER,
        model=model,
        name=subentry.title,
        via_device_id=site_device_id,
    )


def subject_unique_prefix(entry: ConfigEntry, subject_id: str) -> str:
    """Stable prefix of unique ids: the charge point and connector for chargers."""
    if subject_id in (SITE_NODE_ID, MAIN_METER_ID):
        return f"{entry.entry_id}_{subject_id}"
    subentry = entry.subentries[subject_id]
    return subentry.unique_id or subject_id


class EvLoadBalancerEntity(CoordinatorEntity[SiteCoordinator]):
    """An entity of the site, a group, a charger or a meter."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: SiteCoordinator, subject_id: str, description: EntityDescription
    ) -> None:
        """Attach the entity to its subject's device."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self.subject_id = subject_id
        self.entity_description = description
        self._attr_unique_id = f"{subject_unique_prefix(entry, subject_id)}_{description.key}"
        self._attr_device_info = subject_device(entry, subject_id, coordinator.site_device_id)


def async_add_site_entities(
    coordinator: SiteCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
    site_entities: list[Entity],
    subentry_entities: Callable[[str], list[Entity]],
) -> None:
    """Add the site's entities, each subentry's, and those of subentries added later."""
    async_add_entities(site_entities)

    @callback
    def add_subentry(subentry_id: str) -> None:
        if entities := subentry_entities(subentry_id):
            async_add_entities(entities, config_subentry_id=subentry_id)

    for subentry_id in coordinator.config_entry.subentries:
        add_subentry(subentry_id)
    coordinator.subentry_listeners.append(add_subentry)
