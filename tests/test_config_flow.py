"""Tests for the site config flow."""

import socket

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_load_balancer.const import DOMAIN


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.usefixtures("socket_enabled")
async def test_user_step_creates_site(hass: HomeAssistant) -> None:
    port = _free_port()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Garage", CONF_PORT: port}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Garage"
    assert result["data"] == {CONF_NAME: "Garage", CONF_PORT: port}


@pytest.mark.usefixtures("socket_enabled")
async def test_port_in_use_is_refused_then_recovers(hass: HomeAssistant) -> None:
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Garage", CONF_PORT: port}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_PORT: "port_in_use"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Garage", CONF_PORT: port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_same_port_twice_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, data={CONF_NAME: "Home", CONF_PORT: 9000}).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Other", CONF_PORT: 9000}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
