"""Diagnostics: the configuration, the engine's last decisions and every charger's state."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD
from homeassistant.core import HomeAssistant

from . import EvLoadBalancerConfigEntry
from .const import CONF_CERTFILE, CONF_KEYFILE
from .ocpp import ChargerState

TO_REDACT = {CONF_PASSWORD, CONF_HOST, CONF_CERTFILE, CONF_KEYFILE, "id_tag", "serial_number"}
_SECRET_WORDS = ("auth", "password", "key", "url", "ssid", "certificate")


def _charger(state: ChargerState) -> dict[str, Any]:
    """A charger's state with the secrets among its raw configuration values hidden."""
    data = asdict(state)
    settings = data["capabilities"]["settings"]
    for name in settings:
        if any(word in name.lower() for word in _SECRET_WORDS):
            settings[name] = REDACTED
    return data


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EvLoadBalancerConfigEntry
) -> dict[str, Any]:
    """Everything needed to understand a site's decisions, without secrets."""
    coordinator = entry.runtime_data.coordinator
    state = coordinator.data
    return async_redact_data(
        {
            "entry": dict(entry.data),
            "subentries": {
                subentry_id: {
                    "type": subentry.subentry_type,
                    "title": subentry.title,
                    "data": dict(subentry.data),
                }
                for subentry_id, subentry in entry.subentries.items()
            },
            "runtime_settings": coordinator.settings.as_dict(),
            "site": asdict(coordinator.layout.site),
            "last_cycle": None if state is None else asdict(state),
            "controller": coordinator.controller.export_state(),
            "meters": {
                meter_id: {
                    "source": source.describe(),
                    "health": source.health.value,
                    "problem": source.problem,
                    "reading": None if source.reading is None else asdict(source.reading),
                }
                for meter_id, source in coordinator.meters.items()
            },
            "chargers": {
                charge_point_id: _charger(charger)
                for charge_point_id, charger in coordinator.central.chargers.items()
            },
        },
        TO_REDACT,
    )
