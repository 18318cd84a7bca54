"""Fixtures shared by every test."""

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
import socket
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_load_balancer.const import DOMAIN, SITE

GRID_SENSORS = ("sensor.grid_l1", "sensor.grid_l2", "sensor.grid_l3")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create the entities that are disabled by default too."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_data(port: int = 9000, **changes: Any) -> dict[str, Any]:
    """A 3x25 A TN site measured by its chargers, as the config flow stores it."""
    return {
        "name": "Garage",
        "grid": "TN",
        "phases": 3,
        "voltage_v": 230,
        "fuse_a": 25,
        "margin_a": 2,
        "reserve_a": 0,
        "failsafe_a": 6,
        "ocpp_port": port,
        "unknown_chargers": "pending",
        "certfile": None,
        "keyfile": None,
        "meter": {"meter_type": "chargers", "includes_chargers": True},
        **changes,
    }


def charger_subentry(
    charge_point_id: str,
    *,
    title: str | None = None,
    group: str = SITE,
    phases: int = 3,
    wiring: str = "L1L2L3",
    max_a: float = 16.0,
    priority: int = 0,
    password: str | None = None,
) -> ConfigSubentryData:
    """A charger subentry as the charger flow stores it."""
    return ConfigSubentryData(
        data={
            "charge_point_id": charge_point_id,
            "connector_id": 1,
            "group": group,
            "phases": phases,
            "wiring": wiring,
            "min_a": 6.0,
            "max_a": max_a,
            "priority": priority,
            "password": password,
        },
        subentry_type="charger",
        title=title or charge_point_id,
        unique_id=f"{charge_point_id}_1",
    )


def sensor_meter(includes_chargers: bool = True) -> dict[str, Any]:
    """The site's meter as three Home Assistant current sensors."""
    return {
        "meter_type": "sensors",
        "current_entities": list(GRID_SENSORS),
        "power_entities": [],
        "voltage_entities": [],
        "includes_chargers": includes_chargers,
    }


type SiteFactory = Callable[..., Awaitable[MockConfigEntry]]


@pytest.fixture
async def setup_site(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[SiteFactory]:
    """Set up a site on a free OCPP port: `await setup_site(*subentries, **site changes)`.

    Sites still loaded at the end are unloaded, so no port, task or timer outlives the test.
    """
    entries: list[MockConfigEntry] = []

    async def setup(*subentries: ConfigSubentryData, **changes: Any) -> MockConfigEntry:
        entry = MockConfigEntry(
            domain=DOMAIN,
            entry_id=f"site{len(entries) or ''}",
            title="Garage",
            data=site_data(free_port(), **changes),
            subentries_data=subentries,
        )
        entry.add_to_hass(hass)
        entries.append(entry)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        return entry

    yield setup
    await hass.async_block_till_done()
    for entry in entries:
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def until(predicate: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Wait until `predicate()` is true, checking every few milliseconds."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.002)
