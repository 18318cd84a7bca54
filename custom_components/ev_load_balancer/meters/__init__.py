"""Meter sources: what the site and its groups draw, per line.

The coordinator's view of every source (`MeterSource`):

- `await source.start()` / `await source.stop()`: begin and end measuring; `stop()` leaves
  no task or timer behind.
- `source.reading`: the latest valid `PhaseReading` or None. Currents in amperes per line
  (index 0, 1, 2 for L1, L2, L3; magnitudes), optional voltage, signed power, energy
  import/export totals, and `timestamp` in monotonic seconds (the event loop's clock unless
  a clock is injected).
- `source.health` (`MeterHealth`) and `source.problem`: a source is healthy while its latest
  reading is younger than `source.timeout_s` and nothing has shown the measurement to be lost.
  A fault never becomes a reading: `reading` keeps the last valid one, with its old
  timestamp. A Modbus fault (timeout, exception response, an invalid marker or NaN in a
  current) turns the source unhealthy once no valid reading came for `timeout_s` (one bad
  poll on a noisy RS485 bus does not trip the failsafe); an invalid voltage, power or energy
  is only left out (None). An unavailable, unknown or non-numeric entity
  turns the source unhealthy at once. A source starts unhealthy and gets `timeout_s` to
  deliver its first reading before its outage is logged. Outages are logged once, recoveries
  once.
- `source.add_listener(callback)`: `callback(source)` on every new reading and every health
  change, from the event loop; returns a function that removes the listener.

Sources:

- `ModbusMeter(meter_id, link=ModbusLink(...), unit_id=..., model=MeterModel...,
  pool=ModbusGatewayPool())`: polled every `poll_interval_s` (1 s). Meters whose links are
  equal (same host and port, or same serial port) share one client from the pool and take
  turns on it. Reconnects with a doubling back-off. `await meter.async_poll()` reads once.
  Models and their register maps: `REGISTER_MAPS` (see `registers.py` for the sources).
- `HomeAssistantSensorMeter(hass, meter_id, current_entity_ids=[...])` or with
  `power_entity_ids` and `voltage_entity_ids`: follows the entities' state changes at once.

A group "measured by its chargers" has no source here: the engine bounds it by its limit and
reads what each car draws from its charger's own meter values.

`await test_connection(link, unit_id=..., model=...)` reads a meter once for the config flow
and returns the `PhaseReading`, or raises a `MeterError` whose `reason` is `cannot_connect`,
`timeout` or `wrong_model`.
"""

from .ha_sensor import DEFAULT_SENSOR_TIMEOUT_S, HomeAssistantSensorMeter
from .modbus import (
    DEFAULT_MODBUS_TIMEOUT_S,
    DEFAULT_POLL_INTERVAL_S,
    MeterConnectionError,
    MeterError,
    MeterResponseError,
    MeterTimeoutError,
    ModbusGatewayPool,
    ModbusLink,
    ModbusMeter,
    ModbusTransport,
    test_connection,
)
from .registers import REGISTER_MAPS, MeterModel, RegisterMap
from .source import MeterHealth, MeterListener, MeterSource, PhaseReading, PhaseValues

__all__ = [
    "DEFAULT_MODBUS_TIMEOUT_S",
    "DEFAULT_POLL_INTERVAL_S",
    "DEFAULT_SENSOR_TIMEOUT_S",
    "REGISTER_MAPS",
    "HomeAssistantSensorMeter",
    "MeterConnectionError",
    "MeterError",
    "MeterHealth",
    "MeterListener",
    "MeterModel",
    "MeterResponseError",
    "MeterSource",
    "MeterTimeoutError",
    "ModbusGatewayPool",
    "ModbusLink",
    "ModbusMeter",
    "ModbusTransport",
    "PhaseReading",
    "PhaseValues",
    "RegisterMap",
    "test_connection",
]
