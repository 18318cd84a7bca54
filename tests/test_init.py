"""Tests for setting up and unloading a site."""

import socket
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_load_balancer.const import DOMAIN

from .conftest import free_port, site_data


@pytest.mark.usefixtures("socket_enabled")
async def test_setup_and_unload_free_the_port(hass: HomeAssistant) -> None:
    port = free_port()
    entry = MockConfigEntry(domain=DOMAIN, title="Home", data=site_data(port))
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    with socket.socket() as probe, pytest.raises(OSError, match="in use"):
        probe.bind(("", port))

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    with socket.socket() as probe:
        probe.bind(("", port))


@pytest.mark.usefixtures("socket_enabled")
async def test_port_taken_retries_later(hass: HomeAssistant) -> None:
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        entry = MockConfigEntry(
            domain=DOMAIN, title="Home", data=site_data(int(busy.getsockname()[1]))
        )
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.usefixtures("socket_enabled")
async def test_removing_the_site_forgets_what_it_stored(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title="Home", data=site_data(free_port()))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    await coordinator.store.async_save(coordinator._store_data())
    key = f"{DOMAIN}.{entry.entry_id}"
    assert key in hass_storage

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
