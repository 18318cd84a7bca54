"""Repair flows: adopt a charger that connected with an unknown id."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_NAME, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import probatio as vol

from .const import (
    CONF_CHARGE_POINT_ID,
    CONF_CONNECTOR_ID,
    CONF_GROUP,
    CONF_MAX_CURRENT,
    CONF_MIN_CURRENT,
    CONF_PHASES,
    CONF_PRIORITY,
    CONF_WIRING,
    SITE,
    SUBENTRY_CHARGER,
)


class AdoptChargerFlow(RepairsFlow):
    """Add the pending charge point as a charger of the site (3-phase, 6-16 A by default).

    Wiring, group and limits can be refined afterwards with the charger's reconfigure.
    """

    def __init__(self, entry_id: str, charge_point_id: str) -> None:
        """Remember which site and which charge point."""
        self._entry_id = entry_id
        self._charge_point_id = charge_point_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start at the form (Home Assistant passes the issue here, not a user's answer)."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Confirm, naming the charger."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="site_removed")
        if user_input is not None:
            site_phases = int(entry.data[CONF_PHASES])
            self.hass.config_entries.async_add_subentry(
                entry,
                ConfigSubentry(
                    data=MappingProxyType(
                        {
                            CONF_CHARGE_POINT_ID: self._charge_point_id,
                            CONF_CONNECTOR_ID: 1,
                            CONF_GROUP: SITE,
                            CONF_PHASES: site_phases,
                            CONF_WIRING: "L1L2L3" if site_phases == 3 else "L1",
                            CONF_MIN_CURRENT: 6.0,
                            CONF_MAX_CURRENT: float(user_input[CONF_MAX_CURRENT]),
                            CONF_PRIORITY: 0,
                            CONF_PASSWORD: None,
                        }
                    ),
                    subentry_type=SUBENTRY_CHARGER,
                    title=user_input[CONF_NAME],
                    unique_id=f"{self._charge_point_id}_1",
                ),
            )
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_NAME, default=self._charge_point_id): selector.TextSelector(),
                    vol.Required(CONF_MAX_CURRENT, default=16): selector.NumberSelector(
                        selector.NumberSelectorConfig(
                            min=6,
                            max=80,
                            step=0.5,
                            unit_of_measurement="A",
                            mode=selector.NumberSelectorMode.BOX,
                        )
                    ),
                }
            ),
            description_placeholders={"charge_point_id": self._charge_point_id},
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix flow of a pending charger."""
    if data is None:
        raise ValueError(f"repair issue {issue_id} carries no data")
    return AdoptChargerFlow(str(data["entry_id"]), str(data["charge_point_id"]))
