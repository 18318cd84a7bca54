"""Home Assistant sensors as a meter, driven by real state changes."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ev_load_balancer.meters import MeterHealth, MeterSource, PhaseReading
from custom_components.ev_load_balancer.meters.ha_sensor import HomeAssistantSensorMeter

from .conftest import FakeClock

CURRENTS = ("sensor.current_l1", "sensor.current_l2", "sensor.current_l3")
POWERS = ("sensor.power_l1", "sensor.power_l2", "sensor.power_l3")
VOLTAGES = ("sensor.voltage_l1", "sensor.voltage_l2", "sensor.voltage_l3")
TIMEOUT_S = 30.0


@pytest.fixture(autouse=True)
def frozen_wall_clock(freezer: FrozenDateTimeFactory) -> None:
    """Keep the states' ages at zero: readings at start are then exactly as old as the clock."""


def set_states(
    hass: HomeAssistant, entity_ids: tuple[str, ...], values: tuple[Any, ...], unit: str
) -> None:
    for entity_id, value in zip(entity_ids, values, strict=True):
        hass.states.async_set(entity_id, str(value), {ATTR_UNIT_OF_MEASUREMENT: unit})


def fire_after(hass: HomeAssistant, seconds: float) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))


def record(meter: MeterSource) -> list[tuple[MeterHealth, PhaseReading | None]]:
    calls: list[tuple[MeterHealth, PhaseReading | None]] = []
    meter.add_listener(lambda source: calls.append((source.health, source.reading)))
    return calls


@pytest.fixture
async def current_meter(hass: HomeAssistant, clock: FakeClock) -> Any:
    set_states(hass, CURRENTS, (10, 11, 12), "A")
    meter = HomeAssistantSensorMeter(
        hass, "p1", current_entity_ids=CURRENTS, timeout_s=TIMEOUT_S, clock=clock
    )
    await meter.start()
    yield meter
    await meter.stop()


async def test_takes_present_states_at_start(
    current_meter: HomeAssistantSensorMeter, clock: FakeClock
) -> None:
    assert current_meter.health is MeterHealth.HEALTHY
    assert current_meter.reading == PhaseReading(current_a=(10.0, 11.0, 12.0), timestamp=clock.now)


async def test_a_state_change_is_a_new_reading_at_once(
    hass: HomeAssistant, current_meter: HomeAssistantSensorMeter, clock: FakeClock
) -> None:
    calls = record(current_meter)
    clock.advance(1)

    hass.states.async_set(CURRENTS[1], "-17.5", {ATTR_UNIT_OF_MEASUREMENT: "A"})

    # The sign is the direction of the power: the fuse sees the magnitude.
    assert calls == [
        (MeterHealth.HEALTHY, PhaseReading(current_a=(10.0, 17.5, 12.0), timestamp=clock.now - 1))
    ]


async def test_the_reading_is_as_old_as_its_oldest_sensor(
    hass: HomeAssistant, current_meter: HomeAssistantSensorMeter, clock: FakeClock
) -> None:
    clock.advance(5)
    set_states(hass, CURRENTS, (1, 2, 3), "A")
    clock.advance(5)
    hass.states.async_set(CURRENTS[0], "4", {ATTR_UNIT_OF_MEASUREMENT: "A"})

    assert current_meter.reading == PhaseReading(current_a=(4.0, 2.0, 3.0), timestamp=clock.now - 5)


async def test_an_unchanged_value_written_again_counts_as_fresh(
    hass: HomeAssistant, current_meter: HomeAssistantSensorMeter, clock: FakeClock
) -> None:
    calls = record(current_meter)
    clock.advance(TIMEOUT_S / 2)

    set_states(hass, CURRENTS, (10, 11, 12), "A")

    assert calls[-1] == (
        MeterHealth.HEALTHY,
        PhaseReading(current_a=(10.0, 11.0, 12.0), timestamp=clock.now),
    )


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (STATE_UNAVAILABLE, "sensor.current_l2 is unavailable"),
        (STATE_UNKNOWN, "sensor.current_l2 is unknown"),
        ("garbage", "sensor.current_l2 is not a number: 'garbage'"),
        ("nan", "sensor.current_l2 is nan"),
    ],
)
async def test_an_unusable_state_makes_the_meter_unhealthy_at_once(
    hass: HomeAssistant,
    current_meter: HomeAssistantSensorMeter,
    caplog: pytest.LogCaptureFixture,
    state: str,
    problem: str,
) -> None:
    calls = record(current_meter)
    good = current_meter.reading

    hass.states.async_set(CURRENTS[1], state)
    hass.states.async_set(CURRENTS[0], "3", {ATTR_UNIT_OF_MEASUREMENT: "A"})

    assert current_meter.health is MeterHealth.UNHEALTHY
    assert current_meter.problem == problem
    # Never 0 A: the last valid reading stays, with its old timestamp.
    assert current_meter.reading == good
    assert calls == [(MeterHealth.UNHEALTHY, good)]

    hass.states.async_set(CURRENTS[1], "5", {ATTR_UNIT_OF_MEASUREMENT: "A"})

    assert current_meter.health is MeterHealth.HEALTHY
    assert current_meter.reading is not None
    assert current_meter.reading.current_a == (3.0, 5.0, 12.0)
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"Meter p1 ({', '.join(CURRENTS)}) is unavailable: {problem}"]
    assert f"Meter p1 ({', '.join(CURRENTS)}) is back" in caplog.text


async def test_a_missing_entity_is_logged_only_after_the_grace_period(
    hass: HomeAssistant, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    set_states(hass, CURRENTS[:2], (1, 2), "A")
    meter = HomeAssistantSensorMeter(
        hass, "p1", current_entity_ids=CURRENTS, timeout_s=TIMEOUT_S, clock=clock
    )

    await meter.start()
    assert meter.health is MeterHealth.UNHEALTHY
    assert meter.problem == "sensor.current_l3 does not exist"
    assert "is unavailable" not in caplog.text

    fire_after(hass, TIMEOUT_S + 1)
    await meter.stop()

    assert "is unavailable: sensor.current_l3 does not exist" in caplog.text


async def test_no_update_for_the_timeout_makes_the_meter_unhealthy(
    hass: HomeAssistant, current_meter: HomeAssistantSensorMeter
) -> None:
    fire_after(hass, TIMEOUT_S - 1)
    assert current_meter.health is MeterHealth.HEALTHY

    fire_after(hass, TIMEOUT_S + 1)

    assert current_meter.health is MeterHealth.UNHEALTHY
    assert current_meter.problem == f"no valid reading for {TIMEOUT_S:g} s"


@pytest.mark.parametrize(
    ("unit", "values", "currents"),
    [
        ("A", (16.25, 0, 7.5), (16.25, 0.0, 7.5)),
        ("mA", (16250, 0, 7500), (16.25, 0.0, 7.5)),
    ],
)
async def test_current_units(
    hass: HomeAssistant,
    clock: FakeClock,
    unit: str,
    values: tuple[float, ...],
    currents: tuple[float, float, float],
) -> None:
    set_states(hass, CURRENTS, values, unit)
    meter = HomeAssistantSensorMeter(hass, "p1", current_entity_ids=CURRENTS, clock=clock)
    await meter.start()
    await meter.stop()

    assert meter.reading == PhaseReading(current_a=currents, timestamp=clock.now)


@pytest.mark.parametrize(
    ("power_unit", "powers", "voltage_unit", "voltages"),
    [
        ("W", (2300, -1150, 0), "V", (230, 230, 229)),
        ("kW", (2.3, -1.15, 0), "V", (230, 230, 229)),
        ("W", (2300, -1150, 0), "kV", (0.23, 0.23, 0.229)),
    ],
)
async def test_current_from_power_and_voltage(
    hass: HomeAssistant,
    *,
    clock: FakeClock,
    power_unit: str,
    powers: tuple[float, ...],
    voltage_unit: str,
    voltages: tuple[float, ...],
) -> None:
    set_states(hass, POWERS, powers, power_unit)
    set_states(hass, VOLTAGES, voltages, voltage_unit)
    meter = HomeAssistantSensorMeter(
        hass, "p1", power_entity_ids=POWERS, voltage_entity_ids=VOLTAGES, clock=clock
    )
    await meter.start()
    await meter.stop()

    assert meter.reading is not None
    assert meter.reading.current_a == pytest.approx((10.0, 5.0, 0.0))
    assert meter.reading.power_w == pytest.approx((2300.0, -1150.0, 0.0))
    assert meter.reading.voltage_v == pytest.approx((230.0, 230.0, 229.0))


@pytest.mark.parametrize(
    ("entity_id", "state", "unit", "problem"),
    [
        ("sensor.voltage_l3", "0", "V", "sensor.voltage_l3 reads 0.0 V"),
        ("sensor.power_l1", "5", "kVA", "sensor.power_l1 has an unsupported unit 'kVA'"),
    ],
)
async def test_power_and_voltage_problems(
    hass: HomeAssistant, *, clock: FakeClock, entity_id: str, state: str, unit: str, problem: str
) -> None:
    set_states(hass, POWERS, (2300, 1150, 0), "W")
    set_states(hass, VOLTAGES, (230, 230, 229), "V")
    hass.states.async_set(entity_id, state, {ATTR_UNIT_OF_MEASUREMENT: unit})
    meter = HomeAssistantSensorMeter(
        hass, "p1", power_entity_ids=POWERS, voltage_entity_ids=VOLTAGES, clock=clock
    )
    await meter.start()
    await meter.stop()

    assert meter.health is MeterHealth.UNHEALTHY
    assert meter.problem == problem


async def test_one_sensor_measures_a_single_phase_site(
    hass: HomeAssistant, clock: FakeClock
) -> None:
    hass.states.async_set("sensor.current", "9.5")
    meter = HomeAssistantSensorMeter(hass, "p1", current_entity_ids=["sensor.current"], clock=clock)
    await meter.start()
    await meter.stop()

    # A sensor without a unit is read in amperes.
    assert meter.reading == PhaseReading(current_a=(9.5, 0.0, 0.0), timestamp=clock.now)


async def test_stop_stops_following_the_sensors(
    hass: HomeAssistant, current_meter: HomeAssistantSensorMeter
) -> None:
    await current_meter.stop()
    calls = record(current_meter)

    set_states(hass, CURRENTS, (1, 2, 3), "A")

    assert calls == []


@pytest.mark.parametrize(
    "entities",
    [
        {"current_entity_ids": CURRENTS, "power_entity_ids": POWERS},
        {"power_entity_ids": POWERS, "voltage_entity_ids": VOLTAGES[:2]},
        {"current_entity_ids": CURRENTS[:2]},
        {},
    ],
)
def test_rejects_an_incomplete_set_of_entities(
    hass: HomeAssistant, entities: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="give"):
        HomeAssistantSensorMeter(hass, "p1", **entities)
