"""A group measured by its chargers' own meter values (when it has no meter of its own)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
import time

from .source import Clock, MeterSource, PhaseReading, PhaseValues

DEFAULT_CHARGER_SUM_TIMEOUT_S = 120.0
"""A charger whose latest meter values are older than this makes the sum unhealthy."""


class ChargerSumMeter(MeterSource):
    """The sum of the group's chargers: healthy only while every charger is fresh.

    The coordinator feeds it. Readings must already be in site lines (the charger's wiring
    applied), and a charger known to draw nothing (connected, no session) is fed a 0 A
    reading, so that silence is never mistaken for no load.
    """

    def __init__(
        self,
        meter_id: str,
        *,
        charger_ids: Iterable[str],
        timeout_s: float = DEFAULT_CHARGER_SUM_TIMEOUT_S,
        clock: Clock = time.monotonic,
    ) -> None:
        """Sum `charger_ids`; it needs a reading of each before it is healthy."""
        super().__init__(meter_id, timeout_s=timeout_s, clock=clock)
        self.charger_ids = frozenset(charger_ids)
        if not self.charger_ids:
            raise ValueError("a charger sum needs at least one charger")
        self._latest: dict[str, PhaseReading] = {}

    def describe(self) -> str:
        """Name the chargers summed."""
        return "sum of " + ", ".join(sorted(self.charger_ids))

    def update_charger(self, charger_id: str, reading: PhaseReading) -> None:
        """Take a charger's new meter values."""
        if charger_id not in self.charger_ids:
            raise KeyError(charger_id)
        self._latest[charger_id] = reading
        if missing := sorted(self.charger_ids - self._latest.keys()):
            self._note_fault("no meter values yet from " + ", ".join(missing))
            return
        self._publish(_sum(self._latest.values()))

    def charger_lost(self, charger_id: str, problem: str) -> None:
        """Mark a charger offline: its share of the load is unknown from now on."""
        self._latest.pop(charger_id, None)
        self._fail(f"{charger_id}: {problem}")


def _add(a: PhaseValues, b: PhaseValues) -> PhaseValues:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _sum(readings: Collection[PhaseReading]) -> PhaseReading:
    current: PhaseValues = (0.0, 0.0, 0.0)
    power: PhaseValues | None = (0.0, 0.0, 0.0)
    energy_import: float | None = 0.0
    energy_export: float | None = 0.0
    # A total is only known when every charger reports it.
    for reading in readings:
        current = _add(current, reading.current_a)
        power = None if power is None or reading.power_w is None else _add(power, reading.power_w)
        energy_import = (
            None
            if energy_import is None or reading.energy_import_kwh is None
            else energy_import + reading.energy_import_kwh
        )
        energy_export = (
            None
            if energy_export is None or reading.energy_export_kwh is None
            else energy_export + reading.energy_export_kwh
        )
    return PhaseReading(
        current_a=current,
        power_w=power,
        energy_import_kwh=energy_import,
        energy_export_kwh=energy_export,
        # As old as its oldest part: the sum goes stale when any charger does.
        timestamp=min(reading.timestamp for reading in readings),
    )
