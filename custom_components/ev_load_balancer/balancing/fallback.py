"""What each charger may draw by itself when nothing controls it any more.

When Home Assistant, the network or the integration stops, every charger falls back to the
current of its own base profile at the same moment. The site's failsafe current is what the
installer wants each charger to keep; on a site with more chargers than the fuses hold at that
current, only some can keep it and the others fall back to 0 A. Who keeps it does not depend on
the moment (cars, measurements), so the base profiles are rarely rewritten.
"""

from __future__ import annotations

from .electrical import load_lines
from .model import SiteConfig
from .topology import node_paths


def fallback_currents(config: SiteConfig) -> dict[str, float]:
    """Return per charger the current it falls back to: the failsafe current or 0 A.

    Together they fit every line of every node: its limit, less margin and reserve where it is
    metered. Higher priority first, then by id; a disabled charger, and one whose minimum is
    above the failsafe current, falls back to 0 A.
    """
    paths = node_paths(config)
    kept_a = config.margin_a + config.reserve_a
    budget = {
        (node.id, line): node.limit_a[line] - (kept_a if node.meter_id is not None else 0.0)
        for node in config.nodes
        for line in range(3)
    }
    fallback: dict[str, float] = {}
    failsafe_a = config.failsafe_a
    for charger in sorted(config.chargers, key=lambda c: (-c.priority, c.id)):
        # Whatever car comes, it loads no line the charger's own wiring does not.
        lines = load_lines(charger, config.grid, config.phases, charger.phases)
        keys = [(node_id, int(line)) for node_id in paths[charger.group] for line in lines]
        fits = (
            charger.enabled
            and failsafe_a >= charger.min_a
            and all(budget[key] >= failsafe_a for key in keys)
        )
        fallback[charger.id] = failsafe_a if fits else 0.0
        if fits:
            for key in keys:
                budget[key] -= failsafe_a
    return fallback
