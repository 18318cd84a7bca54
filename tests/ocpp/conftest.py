"""Fixtures for the OCPP central system: a server on 127.0.0.1 and simulated charge points."""

import asyncio
import base64
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import ssl
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from custom_components.ev_load_balancer.ocpp import (
    CentralSystem,
    CentralSystemSettings,
    ChargerConfig,
    ChargerEvent,
    ChargerState,
)
from demo.chargepoint import SimCharger16, SimCharger201, run

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeClock:
    """The central system's wall clock, moved by tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Harness:
    """A central system with its configuration, events and simulated charge points."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.configs: dict[str, ChargerConfig] = {}
        self.events: list[ChargerEvent] = []
        self.central: CentralSystem | None = None
        self.ssl_client: ssl.SSLContext | None = None
        self._connections: list[ClientConnection] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(
        self,
        *,
        authorize: Callable[[str, str], bool] | None = None,
        listener: Callable[[ChargerEvent], None] | None = None,
        **settings: Any,
    ) -> CentralSystem:
        base = CentralSystemSettings(host="127.0.0.1", port=0, response_timeout_s=5.0)
        self.central = CentralSystem(
            replace(base, **settings),
            charger_config=self.configs.get,
            listener=listener or self.events.append,
            authorize=authorize,
            clock=self.clock,
        )
        await self.central.start()
        return self.central

    def url(self, cp_id: str) -> str:
        assert self.central is not None
        scheme = "wss" if self.ssl_client else "ws"
        return f"{scheme}://127.0.0.1:{self.central.port}/ocpp/{cp_id}"

    def state(self, cp_id: str) -> ChargerState:
        assert self.central is not None
        return self.central.chargers[cp_id]

    async def open(
        self,
        cp_id: str,
        subprotocol: str = "ocpp1.6",
        password: str | None = None,
        user: str | None = None,
    ) -> ClientConnection:
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{user or cp_id}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        ws = await connect(
            self.url(cp_id),
            subprotocols=[Subprotocol(subprotocol)],
            additional_headers=headers,
            ssl=self.ssl_client,
            open_timeout=5,
        )
        self._connections.append(ws)
        return ws

    def _serve[T: SimCharger16 | SimCharger201](self, charge_point: T) -> T:
        self._tasks.append(asyncio.create_task(run(charge_point)))
        return charge_point

    async def charger16(
        self, cp_id: str = "CP16", *, password: str | None = None, **kwargs: Any
    ) -> SimCharger16:
        ws = await self.open(cp_id, "ocpp1.6", password)
        return self._serve(SimCharger16(cp_id, ws, **kwargs))

    async def charger201(
        self, cp_id: str = "CP201", *, password: str | None = None, **kwargs: Any
    ) -> SimCharger201:
        ws = await self.open(cp_id, "ocpp2.0.1", password)
        return self._serve(SimCharger201(cp_id, ws, **kwargs))

    async def booted16(self, cp_id: str = "CP16", **kwargs: Any) -> SimCharger16:
        """A known 1.6 charger, booted and set up (base profile written)."""
        self.configs.setdefault(cp_id, ChargerConfig())
        charger = await self.charger16(cp_id, **kwargs)
        await charger.boot()
        await self.until(lambda: self.state(cp_id).failsafe.accepted is not None)
        return charger

    async def booted201(self, cp_id: str = "CP201", **kwargs: Any) -> SimCharger201:
        """A known 2.0.1 station, booted and set up."""
        self.configs.setdefault(cp_id, ChargerConfig())
        charger = await self.charger201(cp_id, **kwargs)
        await charger.boot()
        await self.until(lambda: self.state(cp_id).failsafe.accepted is not None)
        return charger

    async def until(self, predicate: Callable[[], object]) -> None:
        """Wait (up to 3 s) for the server side to catch up with what a simulator did."""
        for _ in range(1500):
            if predicate():
                return
            await asyncio.sleep(0.002)
        raise TimeoutError

    async def close(self) -> None:
        for ws in self._connections:
            await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.central is not None:
            await self.central.stop()


@pytest.fixture
async def harness(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[Harness]:
    """A harness inside Home Assistant's event loop; everything is closed afterwards."""
    harness = Harness()
    yield harness
    await harness.close()
