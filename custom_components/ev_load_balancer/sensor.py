"""Sensors: what each charger gets and draws, each node's headroom, each meter's reading."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from . import EvLoadBalancerConfigEntry
from .balancing.model import SITE_NODE_ID, Reason
from .const import SUBENTRY_CHARGER, SUBENTRY_GROUP, SUBENTRY_METER
from .coordinator import SiteCoordinator
from .entity import EvLoadBalancerEntity, async_add_site_entities
from .meters import MeterHealth
from .ocpp import ConnectorState
from .site_layout import MAIN_METER_ID

PARALLEL_UPDATES = 0
LINES = ("L1", "L2", "L3")

type ValueFn = Callable[[SiteCoordinator, str], StateType]


@dataclass(frozen=True, kw_only=True)
class EvLoadBalancerSensorDescription(SensorEntityDescription):
    """A sensor of a charger, a node or a meter."""

    value_fn: ValueFn
    available_fn: Callable[[SiteCoordinator, str], bool] = lambda _, __: True


def _limit(attribute: str) -> ValueFn:
    def value(coordinator: SiteCoordinator, charger_id: str) -> StateType:
        limit = coordinator.data.result.limits.get(charger_id)
        if limit is None:
            return None
        field = getattr(limit, attribute)
        return field.value if isinstance(field, Reason) else field

    return value


def _connector(read: Callable[..., StateType]) -> ValueFn:
    def value(coordinator: SiteCoordinator, charger_id: str) -> StateType:
        state = coordinator.charger_state(charger_id)
        binding = coordinator.layout.chargers.get(charger_id)
        if state is None or binding is None:
            return None
        connector = state.connectors.get(binding.connector_id)
        return None if connector is None else read(connector)

    return value


def _phase_current(index: int, connector: ConnectorState) -> float | None:
    phases = connector.current_import_a
    return (phases.l1, phases.l2, phases.l3)[index]


def _charger_connected(coordinator: SiteCoordinator, charger_id: str) -> bool:
    state = coordinator.charger_state(charger_id)
    return state is not None and state.connected


def _meter_healthy(coordinator: SiteCoordinator, meter_id: str) -> bool:
    source = coordinator.meters.get(meter_id)
    return source is not None and source.health is MeterHealth.HEALTHY


def _kwh(wh: float | None) -> float | None:
    return None if wh is None else round(wh / 1000, 3)


STATUSES = [
    "available",
    "preparing",
    "charging",
    "suspended_evse",
    "suspended_ev",
    "finishing",
    "reserved",
    "unavailable",
    "faulted",
    "occupied",
]


def _status(status: str | None) -> str | None:
    if status is None:
        return None
    key = status.replace("EVSE", "_evse").replace("EV", "_ev")
    key = "".join(f"_{c.lower()}" if c.isupper() else c for c in key).lstrip("_")
    return key if key in STATUSES else None


CHARGER_SENSORS: tuple[EvLoadBalancerSensorDescription, ...] = (
    EvLoadBalancerSensorDescription(
        key="limit",
        translation_key="limit",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_limit("limit_a"),
    ),
    EvLoadBalancerSensorDescription(
        key="reason",
        translation_key="reason",
        device_class=SensorDeviceClass.ENUM,
        options=[reason.value for reason in Reason],
        value_fn=_limit("reason"),
    ),
    EvLoadBalancerSensorDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=STATUSES,
        available_fn=_charger_connected,
        value_fn=_connector(lambda c: _status(c.status)),
    ),
    *(
        EvLoadBalancerSensorDescription(
            key=f"current_{line.lower()}",
            translation_key="current_phase",
            translation_placeholders={"phase": line},
            device_class=SensorDeviceClass.CURRENT,
            native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
            state_class=SensorStateClass.MEASUREMENT,
            entity_registry_enabled_default=False,
            available_fn=_charger_connected,
            value_fn=_connector(partial(_phase_current, index)),
        )
        for index, line in enumerate(LINES)
    ),
    EvLoadBalancerSensorDescription(
        key="power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        available_fn=_charger_connected,
        value_fn=_connector(lambda c: c.power_w),
    ),
    EvLoadBalancerSensorDescription(
        key="energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        available_fn=_charger_connected,
        value_fn=_connector(lambda c: _kwh(c.energy_wh)),
    ),
    EvLoadBalancerSensorDescription(
        key="session_energy",
        translation_key="session_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        available_fn=_charger_connected,
        value_fn=_connector(lambda c: _kwh(c.session_energy_wh)),
    ),
)


def _node_phase(attribute: str, index: int) -> ValueFn:
    def value(coordinator: SiteCoordinator, node_id: str) -> StateType:
        per_phase = getattr(coordinator.data.result, attribute).get(node_id)
        return None if per_phase is None else round(per_phase[index], 2)

    return value


def _node_sensors(phases: int) -> tuple[EvLoadBalancerSensorDescription, ...]:
    descriptions = []
    for index, line in enumerate(LINES[:phases]):
        for attribute, key, enabled in (
            ("headroom_a", "headroom", True),
            ("allocated_a", "allocated", False),
        ):
            descriptions.append(
                EvLoadBalancerSensorDescription(
                    key=f"{key}_{line.lower()}",
                    translation_key=f"{key}_phase",
                    translation_placeholders={"phase": line},
                    device_class=SensorDeviceClass.CURRENT,
                    native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
                    state_class=SensorStateClass.MEASUREMENT,
                    entity_registry_enabled_default=enabled,
                    value_fn=_node_phase(attribute, index),
                )
            )
    return tuple(descriptions)


def _meter_current(index: int) -> ValueFn:
    def value(coordinator: SiteCoordinator, meter_id: str) -> StateType:
        source = coordinator.meters.get(meter_id)
        if source is None or source.reading is None:
            return None
        return round(source.reading.current_a[index], 2)

    return value


def _meter_power(coordinator: SiteCoordinator, meter_id: str) -> StateType:
    source = coordinator.meters.get(meter_id)
    if source is None or source.reading is None or source.reading.power_w is None:
        return None
    return round(sum(source.reading.power_w), 1)


def _meter_sensors(phases: int) -> tuple[EvLoadBalancerSensorDescription, ...]:
    return (
        *(
            EvLoadBalancerSensorDescription(
                key=f"current_{line.lower()}",
                translation_key="current_phase",
                translation_placeholders={"phase": line},
                device_class=SensorDeviceClass.CURRENT,
                native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
                state_class=SensorStateClass.MEASUREMENT,
                available_fn=_meter_healthy,
                value_fn=_meter_current(index),
            )
            for index, line in enumerate(LINES[:phases])
        ),
        EvLoadBalancerSensorDescription(
            key="power",
            device_class=SensorDeviceClass.POWER,
            native_unit_of_measurement=UnitOfPower.WATT,
            state_class=SensorStateClass.MEASUREMENT,
            available_fn=_meter_healthy,
            value_fn=_meter_power,
        ),
    )


CYCLE_SENSOR = EvLoadBalancerSensorDescription(
    key="cycle_time",
    translation_key="cycle_time",
    native_unit_of_measurement="ms",
    state_class=SensorStateClass.MEASUREMENT,
    entity_category=EntityCategory.DIAGNOSTIC,
    entity_registry_enabled_default=False,
    value_fn=lambda coordinator, _: round(coordinator.data.cycle_s * 1000, 1),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvLoadBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of the site and of every group, charger and meter."""
    coordinator = entry.runtime_data.coordinator
    layout = coordinator.layout
    phases = layout.site.phases
    site: list[Entity] = [
        EvLoadBalancerSensor(coordinator, SITE_NODE_ID, d) for d in _node_sensors(phases)
    ]
    site.append(EvLoadBalancerSensor(coordinator, SITE_NODE_ID, CYCLE_SENSOR))
    site.extend(
        EvLoadBalancerSensor(coordinator, MAIN_METER_ID, d)
        for d in _meter_sensors(phases)
        if MAIN_METER_ID in layout.meters
    )

    def subentry_sensors(subentry_id: str) -> list[Entity]:
        subentry_type = entry.subentries[subentry_id].subentry_type
        descriptions = {
            SUBENTRY_CHARGER: CHARGER_SENSORS,
            SUBENTRY_GROUP: _node_sensors(phases),
            SUBENTRY_METER: _meter_sensors(phases),
        }[subentry_type]
        return [EvLoadBalancerSensor(coordinator, subentry_id, d) for d in descriptions]

    async_add_site_entities(coordinator, async_add_entities, site, subentry_sensors)


class EvLoadBalancerSensor(EvLoadBalancerEntity, SensorEntity):
    """A sensor of a charger, a node or a meter."""

    entity_description: EvLoadBalancerSensorDescription

    @property
    def available(self) -> bool:
        """Unavailable while the charger is offline or the meter is lost."""
        return super().available and self.entity_description.available_fn(
            self.coordinator, self.subject_id
        )

    @property
    def native_value(self) -> StateType:
        """The value from the last cycle or the latest reading."""
        return self.entity_description.value_fn(self.coordinator, self.subject_id)
