"""The group tree is checked once per configuration."""

from __future__ import annotations

import pytest

from custom_components.ev_load_balancer.balancing.model import NodeConfig, SiteConfig
from custom_components.ev_load_balancer.balancing.topology import node_paths

from .helpers import charger, group, site


def test_paths_run_up_to_the_site() -> None:
    config = site(groups=(group("garage", 40.0), group("row", 20.0, parent="garage")))
    assert node_paths(config) == {
        "site": ("site",),
        "garage": ("garage", "site"),
        "row": ("row", "garage", "site"),
    }


@pytest.mark.parametrize(
    "config",
    [
        SiteConfig(nodes=()),
        site(groups=(group("a", 10.0, parent="nowhere"),)),
        site(groups=(group("a", 10.0, parent="b"), group("b", 10.0, parent="a"))),
        site(groups=(group("a", 10.0), group("a", 12.0))),
        site(charger("c", group="nowhere")),
        site(charger("c"), charger("c")),
        SiteConfig(nodes=(NodeConfig(id="site", parent="x", limit_a=(1.0, 1.0, 1.0)),)),
    ],
)
def test_inconsistent_trees_are_refused(config: SiteConfig) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        node_paths(config)
