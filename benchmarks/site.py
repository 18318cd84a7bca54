"""The engine's view of a scenario's site, and the group tree as the simulator needs it."""

from __future__ import annotations

from collections.abc import Mapping

from custom_components.ev_load_balancer.balancing.model import (
    SITE_NODE_ID,
    ChargerConfig,
    GridType,
    Line,
    NodeConfig,
    SiteConfig,
    Strategy,
)

from .scenario import STRATEGIES, Scenario

SITE_METER_ID = "site-meter"


def group_meter_id(group: str) -> str:
    return f"{group}-meter"


def site_config(scenario: Scenario, strategy: str) -> SiteConfig:
    """The SiteConfig the controller gets; a baseline name leaves the file's strategy order."""
    site = scenario.site
    includes = scenario.meter.includes_chargers
    nodes = [
        NodeConfig(
            id=SITE_NODE_ID,
            parent=None,
            limit_a=site.fuse_a,
            meter_id=SITE_METER_ID,
            meter_includes_chargers=includes,
        )
    ]
    nodes += [
        NodeConfig(
            id=g.id,
            parent=g.parent,
            limit_a=g.limit_a,
            meter_id=group_meter_id(g.id) if g.metered else None,
            meter_includes_chargers=includes,
        )
        for g in scenario.groups
    ]
    chargers = tuple(
        ChargerConfig(
            id=c.id,
            group=c.group,
            phases=c.phases,
            wiring=c.wiring,
            min_a=c.min_a,
            max_a=c.max_a,
            priority=c.priority,
            enabled=c.enabled,
        )
        for c in scenario.chargers
    )
    return SiteConfig(
        phases=site.phases,
        grid=site.grid,
        voltage_v=site.voltage_v,
        margin_a=site.margin_a,
        reserve_a=site.reserve_a,
        failsafe_a=site.failsafe_a,
        strategy=Strategy(strategy) if strategy in STRATEGIES else Strategy.EQUAL_SHARE,
        nodes=tuple(nodes),
        chargers=chargers,
    )


def node_path(config: SiteConfig, node: str) -> list[str]:
    """The node and its ancestors up to the site, nearest first."""
    parent: Mapping[str, str | None] = {n.id: n.parent for n in config.nodes}
    path = [node]
    while (up := parent[path[-1]]) is not None:
        path.append(up)
    return path


def conductor_lines(grid: GridType, charger: ChargerConfig) -> tuple[tuple[Line, ...], ...]:
    """The site lines each of the charger's conductors loads (a 1-phase IT charger: both)."""
    if grid is GridType.IT and charger.phases == 1:
        return (charger.wiring,)
    return tuple((line,) for line in charger.wiring)
