"""How chargers load site lines and what their meter values tell."""

from __future__ import annotations

import pytest

from custom_components.ev_load_balancer.balancing.electrical import (
    line_currents,
    load_lines,
    observed_phases,
)
from custom_components.ev_load_balancer.balancing.model import ChargerConfig, GridType, Line

from .helpers import L1, L2, L3, THREE, charger

TN, IT = GridType.TN, GridType.IT


@pytest.mark.parametrize(
    ("currents_a", "grid", "expected"),
    [
        ((16.0, 15.8, 16.1), TN, 3),
        ((10.0, 0.2, 0.0), TN, 1),
        ((10.0, 0.2, 0.0), IT, 1),
        ((10.0, 10.0, 0.3), IT, 1),
        ((10.0, 10.0, 0.3), TN, 3),
        ((0.0, 10.0, 0.0), TN, 3),
        ((2.0, 0.0, 0.0), TN, None),
        ((), TN, None),
        ((16.0,), TN, 1),
    ],
)
def test_observed_phases(
    currents_a: tuple[float, ...], grid: GridType, expected: int | None
) -> None:
    assert observed_phases(currents_a, grid) == expected


@pytest.mark.parametrize(
    ("phases", "wiring", "grid", "car_phases", "expected"),
    [
        (3, THREE, TN, 3, (L1, L2, L3)),
        (3, (L2, L3, L1), TN, 3, (L2, L3, L1)),
        (3, (L2, L3, L1), TN, 1, (L2,)),
        (3, (L3, L1, L2), IT, 1, (L3, L1)),
        (3, (L3, L1, L2), IT, 3, (L3, L1, L2)),
        (1, (L2,), TN, 1, (L2,)),
        (1, (L1, L3), IT, 1, (L1, L3)),
        (1, (L1, L3), IT, 3, (L1, L3)),
    ],
)
def test_load_lines(
    phases: int,
    wiring: tuple[Line, ...],
    grid: GridType,
    car_phases: int,
    expected: tuple[Line, ...],
) -> None:
    config = charger("c", phases=phases, wiring=wiring)
    assert load_lines(config, grid, 3, car_phases) == expected


def test_single_phase_site_has_only_line_one() -> None:
    assert load_lines(charger("c", phases=1, wiring=(L2,)), TN, 1, 1) == (L1,)


@pytest.mark.parametrize(
    ("config", "grid", "site_phases", "currents_a", "expected"),
    [
        (charger("c", wiring=(L2, L3, L1)), TN, 3, (10.0, 9.0, 8.0), (8.0, 10.0, 9.0)),
        (charger("c", phases=1, wiring=(L3,)), TN, 3, (7.0, 0.0, 0.0), (0.0, 0.0, 7.0)),
        (charger("c", phases=1, wiring=(L1, L2)), IT, 3, (7.0,), (7.0, 7.0, 0.0)),
        (charger("c"), TN, 3, (20.0, 3.0, 0.0), (16.0, 3.0, 0.0)),
        (charger("c", phases=1), TN, 1, (12.0,), (12.0, 0.0, 0.0)),
        (charger("c"), TN, 3, (), (0.0, 0.0, 0.0)),
    ],
)
def test_line_currents(
    config: ChargerConfig,
    grid: GridType,
    site_phases: int,
    currents_a: tuple[float, ...],
    expected: tuple[float, float, float],
) -> None:
    assert line_currents(config, grid, site_phases, currents_a, 16.0) == expected
