"""The site's configuration (entry, subentries, runtime settings) as the engine's model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PASSWORD

from .balancing.model import (
    SITE_NODE_ID,
    ChargerConfig,
    ControllerSettings,
    GridType,
    Line,
    NodeConfig,
    SiteConfig,
    Strategy,
)
from .const import (
    CONF_CHARGE_POINT_ID,
    CONF_CONNECTOR_ID,
    CONF_FAILSAFE,
    CONF_FUSE,
    CONF_GRID,
    CONF_GROUP,
    CONF_INCLUDES_CHARGERS,
    CONF_LIMIT,
    CONF_MARGIN,
    CONF_MAX_CHANGES,
    CONF_MAX_CURRENT,
    CONF_METER,
    CONF_METER_ID,
    CONF_METER_TIMEOUT,
    CONF_METER_TYPE,
    CONF_MIN_CURRENT,
    CONF_PARENT,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_RESERVE,
    CONF_ROTATION_MINUTES,
    CONF_SETTLE,
    CONF_VOLTAGE,
    CONF_WIRING,
    SITE,
    SUBENTRY_CHARGER,
    SUBENTRY_GROUP,
    SUBENTRY_METER,
    MeterType,
)

MAIN_METER_ID = "main"
"""The engine's id of the site's own meter (other meters use their subentry id)."""


@dataclass(kw_only=True)
class RuntimeSettings:
    """What users and automations change while the site runs; survives restarts."""

    priorities: dict[str, int] = field(default_factory=dict)
    enabled: dict[str, bool] = field(default_factory=dict)
    limits_a: dict[str, float] = field(default_factory=dict)
    strategy: Strategy = Strategy.EQUAL_SHARE

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form, for the store."""
        return {
            "priorities": dict(self.priorities),
            "enabled": dict(self.enabled),
            "limits_a": dict(self.limits_a),
            "strategy": self.strategy.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuntimeSettings:
        """Read back what `as_dict` wrote; unknown or broken values fall back to defaults."""
        try:
            strategy = Strategy(data.get("strategy", Strategy.EQUAL_SHARE))
        except ValueError:
            strategy = Strategy.EQUAL_SHARE
        return cls(
            priorities={str(k): int(v) for k, v in data.get("priorities", {}).items()},
            enabled={str(k): bool(v) for k, v in data.get("enabled", {}).items()},
            limits_a={str(k): float(v) for k, v in data.get("limits_a", {}).items()},
            strategy=strategy,
        )


@dataclass(frozen=True, kw_only=True)
class ChargerBinding:
    """How an engine charger id maps to an OCPP charge point and connector."""

    charger_id: str
    name: str
    charge_point_id: str
    connector_id: int
    password: str | None


@dataclass(frozen=True, kw_only=True)
class SiteLayout:
    """One consistent view of the configuration, rebuilt on every change."""

    site: SiteConfig
    chargers: Mapping[str, ChargerBinding]
    group_names: Mapping[str, str]
    """Node id to its name; the site's node is named after the entry."""
    meters: Mapping[str, Mapping[str, Any]]
    """Meter id to its configuration (type, address or entities)."""
    orphans: frozenset[str] = frozenset()
    """Chargers whose group no longer hangs from the site: kept paused until fixed."""

    def charger_by_connector(self, charge_point_id: str, connector_id: int) -> str | None:
        """The engine id of a charge point's connector, if it is configured."""
        for binding in self.chargers.values():
            if (binding.charge_point_id, binding.connector_id) == (charge_point_id, connector_id):
                return binding.charger_id
        return None


def parse_wiring(wiring: str) -> tuple[Line, ...]:
    """'L2L3L1' -> (Line.L2, Line.L3, Line.L1)."""
    names = [wiring[i : i + 2] for i in range(0, len(wiring), 2)]
    return tuple(Line[name] for name in names)


def build_layout(entry: ConfigEntry, settings: RuntimeSettings) -> SiteLayout:
    """Turn the entry and its subentries (with runtime settings on top) into the model."""
    data = entry.data
    phases = int(data[CONF_PHASES])
    meters: dict[str, Mapping[str, Any]] = {}
    main_meter = data[CONF_METER]
    site_meter_id: str | None = None
    if main_meter[CONF_METER_TYPE] != MeterType.CHARGERS:
        site_meter_id = MAIN_METER_ID
        meters[MAIN_METER_ID] = main_meter
    for subentry_id, subentry in entry.subentries.items():
        if subentry.subentry_type == SUBENTRY_METER:
            meters[subentry_id] = subentry.data

    def limit(node_id: str, configured_a: float) -> tuple[float, float, float]:
        # A limit set at run time lowers the wired one, never raises it (the fuse may have
        # been reconfigured lower since).
        amps = min(settings.limits_a.get(node_id, configured_a), configured_a)
        # A single-phase site has L1 only; the others are closed so nothing is placed there.
        return (amps, amps, amps) if phases == 3 else (amps, 0.0, 0.0)

    nodes = [
        NodeConfig(
            id=SITE_NODE_ID,
            parent=None,
            limit_a=limit(SITE_NODE_ID, float(data[CONF_FUSE])),
            meter_id=site_meter_id,
            meter_includes_chargers=bool(main_meter.get(CONF_INCLUDES_CHARGERS, True)),
        )
    ]
    group_names = {SITE_NODE_ID: entry.title}
    chargers: list[ChargerConfig] = []
    bindings: dict[str, ChargerBinding] = {}
    for subentry_id, subentry in entry.subentries.items():
        sub = subentry.data
        if subentry.subentry_type == SUBENTRY_GROUP:
            meter_id = sub.get(CONF_METER_ID)
            if meter_id not in meters:
                meter_id = None
            nodes.append(
                NodeConfig(
                    id=subentry_id,
                    parent=_node_id(sub[CONF_PARENT]),
                    limit_a=limit(subentry_id, float(sub[CONF_LIMIT])),
                    meter_id=meter_id,
                    meter_includes_chargers=bool(
                        meters[meter_id].get(CONF_INCLUDES_CHARGERS, True) if meter_id else True
                    ),
                )
            )
            group_names[subentry_id] = subentry.title
        elif subentry.subentry_type == SUBENTRY_CHARGER:
            chargers.append(
                ChargerConfig(
                    id=subentry_id,
                    group=_node_id(sub[CONF_GROUP]),
                    phases=int(sub[CONF_PHASES]),
                    wiring=parse_wiring(sub[CONF_WIRING]),
                    min_a=float(sub[CONF_MIN_CURRENT]),
                    max_a=float(sub[CONF_MAX_CURRENT]),
                    priority=settings.priorities.get(subentry_id, int(sub[CONF_PRIORITY])),
                    enabled=settings.enabled.get(subentry_id, True),
                )
            )
            bindings[subentry_id] = ChargerBinding(
                charger_id=subentry_id,
                name=subentry.title,
                charge_point_id=sub[CONF_CHARGE_POINT_ID],
                connector_id=int(sub[CONF_CONNECTOR_ID]),
                password=sub.get(CONF_PASSWORD),
            )
    # A removed group leaves its chargers (and groups) without their fuse: rather than hang
    # them from the site, where they could draw more than that fuse allows, they are paused.
    attached = _attached_nodes(nodes)
    nodes = [node for node in nodes if node.id in attached]
    orphans = frozenset(c.id for c in chargers if c.group not in attached)
    chargers = [
        replace(c, enabled=False, group=SITE_NODE_ID) if c.id in orphans else c for c in chargers
    ]
    site = SiteConfig(
        phases=phases,
        grid=GridType(data[CONF_GRID]),
        voltage_v=float(data[CONF_VOLTAGE]),
        margin_a=float(data[CONF_MARGIN]),
        reserve_a=float(data[CONF_RESERVE]),
        failsafe_a=float(data[CONF_FAILSAFE]),
        strategy=settings.strategy,
        nodes=tuple(nodes),
        chargers=tuple(chargers),
    )
    return SiteLayout(
        site=site, chargers=bindings, group_names=group_names, meters=meters, orphans=orphans
    )


def _node_id(configured: str) -> str:
    return SITE_NODE_ID if configured == SITE else configured


def _attached_nodes(nodes: list[NodeConfig]) -> set[str]:
    """The ids of the nodes whose chain of parents reaches the site."""
    parents = {node.id: node.parent for node in nodes}
    attached = {SITE_NODE_ID}
    for node_id in parents:
        chain: list[str] = []
        current: str | None = node_id
        while current is not None and current not in attached and current not in chain:
            chain.append(current)
            current = parents.get(current)
        if current in attached:
            attached.update(chain)
    return attached


def controller_settings(options: Mapping[str, Any]) -> ControllerSettings:
    """The loop's tuning from the entry's options (defaults where unset)."""
    defaults = ControllerSettings()
    return replace(
        defaults,
        settle_s=float(options.get(CONF_SETTLE, defaults.settle_s)),
        meter_timeout_s=float(options.get(CONF_METER_TIMEOUT, defaults.meter_timeout_s)),
        rotation_interval_s=60
        * float(options.get(CONF_ROTATION_MINUTES, defaults.rotation_interval_s / 60)),
        max_changes_per_hour=int(options.get(CONF_MAX_CHANGES, defaults.max_changes_per_hour)),
    )
