"""When the demo's cars arrive, what they can take, when their battery is full and when they go.

A fixed timetable that repeats every day, in hours of the (compressed) day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from demo.chargepoint import Car


def _within(hour: float, start_h: float, end_h: float) -> bool:
    """Whether `hour` lies in [start_h, end_h), which may wrap past midnight."""
    if start_h <= end_h:
        return start_h <= hour < end_h
    return hour >= start_h or hour < end_h


@dataclass(frozen=True)
class Visit:
    """A car on a charge point from `arrive_h` to `leave_h`; it stops drawing once full."""

    charge_point_id: str
    car: str
    phases: int
    max_a: float
    arrive_h: float
    leave_h: float
    full_h: float | None = None

    def present(self, hour: float) -> bool:
        return _within(hour, self.arrive_h, self.leave_h)

    def full(self, hour: float) -> bool:
        """Whether the battery is full by `hour` (only meaningful while present)."""
        return self.full_h is not None and not _within(hour, self.arrive_h, self.full_h)

    def car_now(self, hour: float) -> Car:
        """What the car draws now: nothing once its battery is full."""
        return Car(phases=self.phases, max_a=0.0 if self.full(hour) else self.max_a)


VISITS: tuple[Visit, ...] = (
    Visit("DEMO-DRIVEWAY", "Tesla Model 3", 3, 16, 16.1, 7.6, full_h=21.0),
    Visit("DEMO-DRIVEWAY", "Hyundai Kona", 3, 11, 9.0, 13.0),
    Visit("DEMO-GARAGE", "VW ID.4", 3, 16, 18.5, 6.9, full_h=2.0),
    Visit("DEMO-CARPORT", "Renault Zoe", 3, 32, 16.0, 18.2),
    Visit("DEMO-CARPORT", "Kia e-Niro", 2, 16, 21.5, 7.0, full_h=3.5),
    Visit("DEMO-VISITOR", "Nissan Leaf", 1, 32, 16.4, 19.0),
    Visit("DEMO-VISITOR", "Peugeot e-208", 1, 16, 10.0, 14.5),
    Visit("DEMO-WORKSHOP", "Mitsubishi Outlander PHEV", 1, 16, 19.0, 22.0),
    Visit("DEMO-WORKSHOP", "Ford E-Transit", 3, 16, 8.5, 16.5),
    # The neighbour's charge point nobody has added: this car charges once it is adopted.
    Visit("DEMO-NEIGHBOUR", "BMW i4", 3, 16, 16.3, 23.0),
)


def visit_at(visits: Iterable[Visit], charge_point_id: str, hour: float) -> Visit | None:
    """The car plugged into this charge point at this time of day, if any."""
    return next(
        (v for v in visits if v.charge_point_id == charge_point_id and v.present(hour)), None
    )
