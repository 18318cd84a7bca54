"""A group measured by the sum of its chargers' meter values."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ev_load_balancer.meters import ChargerSumMeter, MeterHealth, PhaseReading

from .conftest import FakeClock

TIMEOUT_S = 60.0


def fire_after(hass: HomeAssistant, seconds: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))


def charging(clock: FakeClock, l1: float, l2: float, l3: float) -> PhaseReading:
    return PhaseReading(
        current_a=(l1, l2, l3),
        power_w=(l1 * 230, l2 * 230, l3 * 230),
        energy_import_kwh=10.0,
        timestamp=clock.now,
    )


@pytest.fixture
async def group(hass: HomeAssistant, clock: FakeClock) -> AsyncGenerator[ChargerSumMeter]:
    meter = ChargerSumMeter("garage", charger_ids=["cp1", "cp2"], timeout_s=TIMEOUT_S, clock=clock)
    await meter.start()
    yield meter
    await meter.stop()


async def test_healthy_only_once_every_charger_has_reported(
    group: ChargerSumMeter, clock: FakeClock
) -> None:
    group.update_charger("cp1", charging(clock, 16, 16, 16))
    assert group.health is MeterHealth.UNHEALTHY
    assert group.reading is None
    assert group.problem == "no meter values yet from cp2"

    clock.advance(2)
    # An idle charger is fed 0 A by the coordinator: known to draw nothing.
    group.update_charger("cp2", PhaseReading(current_a=(0.0, 6.0, 0.0), timestamp=clock.now))

    assert group.health is MeterHealth.HEALTHY
    # Totals the idle charger does not report are unknown; the sum is as old as its oldest part.
    assert group.reading == PhaseReading(current_a=(16.0, 22.0, 16.0), timestamp=clock.now - 2)


async def test_the_sum_goes_stale_with_its_oldest_charger(
    hass: HomeAssistant, group: ChargerSumMeter, clock: FakeClock
) -> None:
    group.update_charger("cp1", charging(clock, 16, 16, 16))
    clock.advance(40)
    group.update_charger("cp2", charging(clock, 8, 8, 8))
    assert group.reading == PhaseReading(
        current_a=(24.0, 24.0, 24.0),
        power_w=(5520.0, 5520.0, 5520.0),
        energy_import_kwh=20.0,
        timestamp=clock.now - 40,
    )

    fire_after(hass, TIMEOUT_S - 40 - 1)
    assert group.health is MeterHealth.HEALTHY
    fire_after(hass, TIMEOUT_S - 40 + 1)

    assert group.health is MeterHealth.UNHEALTHY
    assert group.problem == f"no valid reading for {TIMEOUT_S:g} s"


async def test_a_reading_already_too_old_is_no_health(
    group: ChargerSumMeter, clock: FakeClock
) -> None:
    old = charging(clock, 16, 16, 16)
    clock.advance(TIMEOUT_S + 1)

    group.update_charger("cp1", old)
    group.update_charger("cp2", charging(clock, 8, 8, 8))

    assert group.health is MeterHealth.UNHEALTHY
    assert group.problem == f"latest reading is older than {TIMEOUT_S:g} s"


async def test_a_lost_charger_makes_the_sum_unhealthy_until_it_reports_again(
    group: ChargerSumMeter, clock: FakeClock
) -> None:
    group.update_charger("cp1", charging(clock, 16, 16, 16))
    group.update_charger("cp2", charging(clock, 8, 8, 8))
    changes: list[MeterHealth] = []
    group.add_listener(lambda source: changes.append(source.health))

    group.charger_lost("cp2", "offline")

    assert group.health is MeterHealth.UNHEALTHY
    assert group.problem == "cp2: offline"
    group.update_charger("cp1", charging(clock, 10, 10, 10))
    assert group.health is MeterHealth.UNHEALTHY
    group.update_charger("cp2", charging(clock, 6, 6, 6))
    assert group.health is MeterHealth.HEALTHY
    assert changes == [MeterHealth.UNHEALTHY, MeterHealth.HEALTHY]


async def test_rejects_unknown_and_missing_chargers(
    group: ChargerSumMeter, clock: FakeClock
) -> None:
    with pytest.raises(KeyError):
        group.update_charger("cp9", charging(clock, 1, 1, 1))
    with pytest.raises(ValueError, match="at least one charger"):
        ChargerSumMeter("empty", charger_ids=[])
