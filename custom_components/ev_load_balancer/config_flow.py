"""Config flow for EV Load Balancer."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.helpers import selector
import probatio as vol

from .const import DEFAULT_OCPP_PORT, DOMAIN

USER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME, default="Home"): selector.TextSelector(),
        vol.Required(CONF_PORT, default=DEFAULT_OCPP_PORT): selector.NumberSelector(
            selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
        ),
    }
)


def _port_is_free(port: int) -> bool:
    """Whether the OCPP server could listen on this port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


class EvLoadBalancerConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a site."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the site's name and the OCPP port."""
        errors: dict[str, str] = {}
        if user_input is not None:
            port = int(user_input[CONF_PORT])
            self._async_abort_entries_match({CONF_PORT: port})
            if await asyncio.to_thread(_port_is_free, port):
                return self.async_create_entry(
                    title=user_input[CONF_NAME],
                    data={CONF_NAME: user_input[CONF_NAME], CONF_PORT: port},
                )
            errors[CONF_PORT] = "port_in_use"
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
        )
