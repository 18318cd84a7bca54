"""What every meter source reports: per-phase readings and a health state."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
import logging
import time

_LOGGER = logging.getLogger(__name__)

type PhaseValues = tuple[float, float, float]
"""One value per line: index 0, 1, 2 for L1, L2, L3."""

type Clock = Callable[[], float]
"""Monotonic seconds; `time.monotonic` is the event loop's own clock."""

type MeterListener = Callable[[MeterSource], None]

NO_READING_YET = "waiting for the first reading"


@dataclass(frozen=True, kw_only=True, slots=True)
class PhaseReading:
    """One valid measurement of three lines.

    Currents are magnitudes (what the fuse sees, whatever the direction of the power).
    Power is signed: negative while exporting. Energies are the meter's totals.
    """

    current_a: PhaseValues
    voltage_v: PhaseValues | None = None
    power_w: PhaseValues | None = None
    energy_import_kwh: float | None = None
    energy_export_kwh: float | None = None
    timestamp: float
    """When it was measured, on the source's clock (monotonic seconds)."""


class MeterHealth(StrEnum):
    """Whether a source's latest reading can be trusted."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class MeterSource(ABC):
    """A meter: keeps its latest valid reading and tells listeners about changes.

    A source is healthy while its latest reading is younger than `timeout_s` and no fault
    has been seen since. A fault never replaces the reading: `reading` keeps the last valid
    one (with its old timestamp) and the source turns unhealthy.
    """

    def __init__(self, meter_id: str, *, timeout_s: float, clock: Clock = time.monotonic) -> None:
        """Set up an unhealthy source without a reading."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.meter_id = meter_id
        self.timeout_s = timeout_s
        self._clock = clock
        self._reading: PhaseReading | None = None
        self._health = MeterHealth.UNHEALTHY
        self._problem: str | None = NO_READING_YET
        self._listeners: list[MeterListener] = []
        self._watchdog: asyncio.TimerHandle | None = None
        # Log "unavailable" once and "back" once: only a logged outage is followed by a recovery.
        self._outage_logged = False

    @property
    def reading(self) -> PhaseReading | None:
        """The latest valid reading, even while unhealthy (check `health`)."""
        return self._reading

    @property
    def health(self) -> MeterHealth:
        """Whether `reading` is fresh and no fault has been seen since."""
        return self._health

    @property
    def problem(self) -> str | None:
        """Why the source is unhealthy (or the last fault seen while still healthy)."""
        return self._problem

    def add_listener(self, listener: MeterListener) -> Callable[[], None]:
        """Call `listener` on every new reading and health change; returns the remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    async def start(self) -> None:
        """Start measuring; without a reading within `timeout_s` the outage is logged."""
        self._arm_watchdog(self.timeout_s)

    async def stop(self) -> None:
        """Stop measuring; leaves no task or timer behind."""
        self._cancel_watchdog()

    @abstractmethod
    def describe(self) -> str:
        """Where the readings come from, for logs and diagnostics."""

    def _publish(self, reading: PhaseReading) -> None:
        """Take a valid reading: healthy until it is older than `timeout_s`."""
        self._reading = reading
        valid_for_s = reading.timestamp + self.timeout_s - self._clock()
        if valid_for_s <= 0:
            self._fail(f"latest reading is older than {self.timeout_s:g} s")
            return
        self._problem = None
        self._arm_watchdog(valid_for_s)
        if self._health is MeterHealth.UNHEALTHY:
            self._health = MeterHealth.HEALTHY
            if self._outage_logged:
                self._outage_logged = False
                _LOGGER.info("Meter %s (%s) is back", self.meter_id, self.describe())
        self._notify()

    def _note_fault(self, problem: str) -> None:
        """Remember a fault; the source turns unhealthy only when its reading gets stale."""
        self._problem = problem

    def _fail(self, problem: str) -> None:
        """Turn unhealthy at once: the measurement is known to be lost."""
        self._problem = problem
        if self._health is MeterHealth.HEALTHY:
            self._cancel_watchdog()
            self._become_unhealthy()
        # Otherwise a source still waiting for its first reading keeps its grace period:
        # sensors of other integrations are often unavailable for a moment while HA starts.

    def _arm_watchdog(self, delay_s: float) -> None:
        self._cancel_watchdog()
        self._watchdog = asyncio.get_running_loop().call_later(delay_s, self._on_stale)

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _on_stale(self) -> None:
        self._watchdog = None
        if self._problem is None or self._problem == NO_READING_YET:
            self._problem = f"no valid reading for {self.timeout_s:g} s"
        self._become_unhealthy()

    def _become_unhealthy(self) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            _LOGGER.warning(
                "Meter %s (%s) is unavailable: %s", self.meter_id, self.describe(), self._problem
            )
        if self._health is MeterHealth.HEALTHY:
            self._health = MeterHealth.UNHEALTHY
            self._notify()

    def _notify(self) -> None:
        for listener in tuple(self._listeners):
            listener(self)
