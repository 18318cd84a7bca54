"""The group tree of a site: checked once per configuration."""

from __future__ import annotations

from .model import SITE_NODE_ID, SiteConfig


def node_paths(config: SiteConfig) -> dict[str, tuple[str, ...]]:
    """Map each node to itself and every node above it, up to the site.

    Raises ValueError when the tree is not one tree rooted at the site, or a charger hangs
    from a node that does not exist.
    """
    parents = {node.id: node.parent for node in config.nodes}
    if len(parents) != len(config.nodes):
        raise ValueError("duplicate node id")
    if SITE_NODE_ID not in parents or parents[SITE_NODE_ID] is not None:
        raise ValueError(f"the site node {SITE_NODE_ID!r} must exist and have no parent")
    paths: dict[str, tuple[str, ...]] = {}
    for node_id in parents:
        path = [node_id]
        while (parent := parents[path[-1]]) is not None:
            if parent not in parents:
                raise ValueError(f"node {path[-1]!r} has an unknown parent {parent!r}")
            if parent in path:
                raise ValueError(f"node {node_id!r} is part of a cycle")
            path.append(parent)
        if path[-1] != SITE_NODE_ID:
            raise ValueError(f"node {node_id!r} does not hang from the site")
        paths[node_id] = tuple(path)
    charger_ids = [charger.id for charger in config.chargers]
    if len(set(charger_ids)) != len(charger_ids):
        raise ValueError("duplicate charger id")
    for charger in config.chargers:
        if charger.group not in paths:
            raise ValueError(f"charger {charger.id!r} hangs from an unknown node {charger.group!r}")
    return paths
