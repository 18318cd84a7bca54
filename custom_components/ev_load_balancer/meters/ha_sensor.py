"""Home Assistant sensors as a meter: P1/DSMR, HomeWizard, Shelly, Tibber Pulse and the like."""

from __future__ import annotations

from collections.abc import Sequence
import math
import time

from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfPower,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    EventStateReportedData,
    HomeAssistant,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_state_report_event,
)
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import (
    BaseUnitConverter,
    ElectricCurrentConverter,
    ElectricPotentialConverter,
    PowerConverter,
)

from .source import Clock, MeterSource, PhaseReading, PhaseValues

DEFAULT_SENSOR_TIMEOUT_S = 60.0
"""A sensor meter without an update (changed or re-reported state) for this long is unhealthy."""


class _InvalidStateError(Exception):
    """An entity's state cannot be used as a measurement."""


class HomeAssistantSensorMeter(MeterSource):
    """Per-phase sensors of any integration, read on every state change.

    Give either `current_entity_ids` (one per line), or `power_entity_ids` and
    `voltage_entity_ids` (one of each per line; current = |power| / voltage, the active
    current, which is below the true current when the power factor is poor). One entity per
    kind measures a single-phase site; lines without an entity read 0 A.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        meter_id: str,
        *,
        current_entity_ids: Sequence[str] = (),
        power_entity_ids: Sequence[str] = (),
        voltage_entity_ids: Sequence[str] = (),
        timeout_s: float = DEFAULT_SENSOR_TIMEOUT_S,
        clock: Clock = time.monotonic,
    ) -> None:
        """Check the entity lists; nothing is tracked before start()."""
        super().__init__(meter_id, timeout_s=timeout_s, clock=clock)
        if current_entity_ids:
            if power_entity_ids or voltage_entity_ids:
                raise ValueError("give currents, or powers with voltages, not both")
            lines = len(current_entity_ids)
        else:
            lines = len(power_entity_ids)
            if lines != len(voltage_entity_ids):
                raise ValueError("give one voltage entity per power entity")
        if lines not in (1, 3):
            raise ValueError("give entities for one line or for three")
        self.hass = hass
        self.current_entity_ids = tuple(current_entity_ids)
        self.power_entity_ids = tuple(power_entity_ids)
        self.voltage_entity_ids = tuple(voltage_entity_ids)
        self._entity_ids = (
            *self.current_entity_ids,
            *self.power_entity_ids,
            *self.voltage_entity_ids,
        )
        self._updated_at: dict[str, float] = {}
        self._unsubscribe: list[CALLBACK_TYPE] = []

    def describe(self) -> str:
        """Name the entities measured."""
        return ", ".join(self._entity_ids)

    async def start(self) -> None:
        """Track the entities and take their present states."""
        await super().start()
        self._unsubscribe = [
            async_track_state_change_event(self.hass, self._entity_ids, self._on_state_changed),
            # An unchanged value re-written by its integration is a fresh value too.
            async_track_state_report_event(self.hass, self._entity_ids, self._on_state_reported),
        ]
        now_utc = dt_util.utcnow()
        for entity_id in self._entity_ids:
            if (state := self.hass.states.get(entity_id)) is not None:
                age_s = max(0.0, (now_utc - state.last_reported).total_seconds())
                self._updated_at[entity_id] = self._clock() - age_s
        self._evaluate()

    async def stop(self) -> None:
        """Stop tracking."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        await super().stop()

    @callback
    def _on_state_changed(self, event: Event[EventStateChangedData]) -> None:
        self._updated_at[event.data["entity_id"]] = self._clock()
        self._evaluate()

    @callback
    def _on_state_reported(self, event: Event[EventStateReportedData]) -> None:
        self._updated_at[event.data["entity_id"]] = self._clock()
        self._evaluate()

    def _evaluate(self) -> None:
        try:
            if self.current_entity_ids:
                current = self._line_values(
                    self.current_entity_ids, ElectricCurrentConverter, UnitOfElectricCurrent.AMPERE
                )
                voltage = power = None
            else:
                power = self._line_values(self.power_entity_ids, PowerConverter, UnitOfPower.WATT)
                voltage = self._line_values(
                    self.voltage_entity_ids,
                    ElectricPotentialConverter,
                    UnitOfElectricPotential.VOLT,
                )
                current = _currents_from(power, voltage, self.voltage_entity_ids)
        except _InvalidStateError as err:
            self._fail(str(err))
            return
        self._publish(
            PhaseReading(
                current_a=(abs(current[0]), abs(current[1]), abs(current[2])),
                voltage_v=voltage,
                power_w=power,
                # The reading is as old as its oldest part.
                timestamp=min(self._updated_at[entity_id] for entity_id in self._entity_ids),
            )
        )

    def _line_values(
        self, entity_ids: tuple[str, ...], converter: type[BaseUnitConverter], to_unit: str
    ) -> PhaseValues:
        values = [self._value(entity_id, converter, to_unit) for entity_id in entity_ids]
        values += [0.0] * (3 - len(values))
        return (values[0], values[1], values[2])

    def _value(self, entity_id: str, converter: type[BaseUnitConverter], to_unit: str) -> float:
        state = self.hass.states.get(entity_id)
        if state is None:
            raise _InvalidStateError(f"{entity_id} does not exist")
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise _InvalidStateError(f"{entity_id} is {state.state}")
        try:
            value = float(state.state)
        except ValueError:
            raise _InvalidStateError(f"{entity_id} is not a number: {state.state!r}") from None
        if not math.isfinite(value):
            raise _InvalidStateError(f"{entity_id} is {state.state}")
        # A sensor without a unit is taken to be in the base unit (A, W or V).
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or to_unit
        try:
            return converter.convert(value, unit, to_unit)
        except HomeAssistantError:
            raise _InvalidStateError(f"{entity_id} has an unsupported unit {unit!r}") from None


def _currents_from(
    power_w: PhaseValues, voltage_v: PhaseValues, voltage_entity_ids: tuple[str, ...]
) -> PhaseValues:
    currents = [0.0, 0.0, 0.0]
    for line, entity_id in enumerate(voltage_entity_ids):
        if voltage_v[line] <= 0:
            raise _InvalidStateError(f"{entity_id} reads {voltage_v[line]} V")
        currents[line] = abs(power_w[line]) / voltage_v[line]
    return (currents[0], currents[1], currents[2])
