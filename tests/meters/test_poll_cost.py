"""What one poll costs on loopback, per model and framing (printed; run with -s to see it)."""

from __future__ import annotations

import logging
import time

from homeassistant.core import HomeAssistant
from pymodbus.framer import FramerType
import pytest

from custom_components.ev_load_balancer.meters import (
    REGISTER_MAPS,
    MeterModel,
    ModbusLink,
    ModbusMeter,
    ModbusTransport,
)
from demo.meter import SimMeter

from .conftest import GatewayFactory
from .test_modbus import KNOWN

READS = 100
FRAMINGS = (
    (ModbusTransport.TCP, FramerType.SOCKET),
    (ModbusTransport.RTU_OVER_TCP, FramerType.RTU),
)


async def test_poll_cost(
    hass: HomeAssistant, modbus_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # As in production: pymodbus' debug logging would dominate the cost.
    caplog.set_level(logging.WARNING, logger="pymodbus")
    lines = [f"poll cost on loopback (client and server in one process), mean of {READS} reads:"]
    for transport, framer in FRAMINGS:
        for model in MeterModel:
            fake = SimMeter(unit_id=1, register_map=REGISTER_MAPS[model])
            gateway = await modbus_gateway([fake], framer=framer)
            await fake.write_reading(KNOWN)
            link = ModbusLink(transport=transport, host="127.0.0.1", port=gateway.port)
            meter = ModbusMeter("bench", link=link, unit_id=1, model=model, poll_interval_s=3600)
            await meter.start()
            await meter.async_poll()  # connected before timing
            started = time.perf_counter()
            readings = [await meter.async_poll() for _ in range(READS)]
            elapsed_ms = (time.perf_counter() - started) * 1000
            await meter.stop()
            assert None not in readings
            requests = len(meter.register_map.blocks())
            lines.append(
                f"  {model:<28} {transport:<13} {elapsed_ms / READS:6.3f} ms/read"
                f" ({requests} requests)"
            )
    print("\n".join(lines))  # noqa: T201
