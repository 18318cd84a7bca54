"""The demo building's own load per phase over a day, and the demo's compressed clock.

Pure functions of the time of day (hours, 0 to 24), so the profile can be tested and the
demo can run a whole day in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

type Phases = tuple[float, float, float]

BASE_A: Phases = (1.2, 0.9, 1.0)
"""Fridge, freezer, network and standby: always on."""


@dataclass(frozen=True)
class Appliance:
    """A load that runs between two times of day (wrapping past midnight), per phase."""

    name: str
    current_a: Phases
    start_h: float
    end_h: float

    def on(self, hour: float) -> bool:
        if self.start_h <= self.end_h:
            return self.start_h <= hour < self.end_h
        return hour >= self.start_h or hour < self.end_h


APPLIANCES: tuple[Appliance, ...] = (
    # A hob on two phases: the step that makes the chargers on L1 and L2 give way.
    Appliance("hob (breakfast)", (7.0, 5.0, 0.0), 7.0, 7.4),
    Appliance("hob (lunch)", (7.0, 5.0, 0.0), 12.0, 12.4),
    Appliance("hob (dinner)", (8.0, 6.0, 0.0), 17.6, 18.3),
    Appliance("oven", (0.0, 0.0, 6.0), 18.0, 18.8),
    Appliance("washing machine", (0.0, 8.0, 0.0), 20.0, 20.5),
    Appliance("dishwasher", (0.0, 0.0, 8.0), 21.0, 21.4),
)

HEAT_PUMP_A: Phases = (3.0, 3.0, 3.0)
HEAT_PUMP_PERIOD_H = 1.5
"""The heat pump starts every 1.5 h and runs for a share of that which is larger at night."""


def heat_pump_on(hour: float) -> bool:
    cold = 0.5 + 0.2 * math.cos((hour - 4.0) / 24.0 * 2 * math.pi)  # 0.3 at 16h, 0.7 at 4h
    return (hour % HEAT_PUMP_PERIOD_H) < cold * HEAT_PUMP_PERIOD_H


def lighting_a(hour: float) -> float:
    """Lights and the odd small appliance: on in the morning and evening."""
    if 6.5 <= hour < 8.5 or 16.0 <= hour < 23.5:
        return 1.5
    if 8.5 <= hour < 16.0:
        return 0.6
    return 0.1


def building_load(hour: float) -> Phases:
    """The building's current per phase (A) at this time of day, without the chargers."""
    hour %= 24.0
    lines = list(BASE_A)
    light = lighting_a(hour)
    lines[0] += light
    lines[2] += light / 2
    loads = [a.current_a for a in APPLIANCES if a.on(hour)]
    if heat_pump_on(hour):
        loads.append(HEAT_PUMP_A)
    for load in loads:
        for phase in range(3):
            lines[phase] += load[phase]
    # A little wobble, as a real meter never shows the same value twice.
    wobble = 0.15 * math.sin(hour * 97.0)
    return (
        round(lines[0] + wobble, 2),
        round(lines[1] - wobble / 2, 2),
        round(lines[2] + wobble / 3, 2),
    )


@dataclass(frozen=True)
class DemoClock:
    """A day compressed into `day_s` real seconds, starting at `start_h` o'clock."""

    day_s: float = 1800.0
    start_h: float = 16.0

    def hour(self, elapsed_s: float) -> float:
        """The time of day (hours) after `elapsed_s` real seconds of the demo."""
        return (self.start_h + elapsed_s / self.day_s * 24.0) % 24.0
