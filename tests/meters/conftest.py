"""Fixtures for the meter tests: a pymodbus server holding real register maps on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
import pytest

from demo.meter import MeterGateway, SimMeter, start_gateway

type GatewayFactory = Callable[..., Awaitable[MeterGateway]]


@pytest.fixture
async def modbus_gateway(socket_enabled: Any) -> AsyncGenerator[GatewayFactory]:
    """Start servers on free loopback ports: `await modbus_gateway(meters, framer=...)`."""
    servers: list[ModbusTcpServer] = []

    async def start(
        meters: list[SimMeter], *, framer: FramerType = FramerType.SOCKET, port: int = 0
    ) -> MeterGateway:
        gateway = await start_gateway(meters, framer=framer, port=port)
        servers.append(gateway.server)
        return gateway

    yield start
    for server in servers:
        await server.shutdown()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A clock at 1000 s that only moves when told."""
    return FakeClock()
