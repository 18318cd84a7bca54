"""The pending-charger repair, driven through Home Assistant's HTTP API as the UI does."""

import asyncio
from collections.abc import Callable

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from custom_components.ev_load_balancer.const import DOMAIN, SUBENTRY_CHARGER
from demo.chargepoint import SimCharger16, run

from .conftest import SiteFactory, until


async def test_a_pending_charger_is_adopted_from_its_repair(
    hass: HomeAssistant, hass_client: Callable[..., object], setup_site: SiteFactory
) -> None:
    entry = await setup_site()
    assert await async_setup_component(hass, "repairs", {})
    port = entry.runtime_data.coordinator.central.port
    ws = await connect(f"ws://127.0.0.1:{port}/ocpp/NEW-1", subprotocols=[Subprotocol("ocpp1.6")])
    charger = SimCharger16("NEW-1", ws)
    task = asyncio.create_task(run(charger))
    try:
        result = await charger.boot()
        assert result.status == "Pending"
        issue_id = "pending_charger_NEW-1"
        await until(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id))

        client = await hass_client()  # type: ignore[operator]
        response = await client.post(
            "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
        )
        assert response.status == 200, await response.text()
        form = await response.json()
        assert (form["type"], form["step_id"]) == ("form", "confirm")
        assert form["description_placeholders"] == {"charge_point_id": "NEW-1"}

        response = await client.post(
            f"/api/repairs/issues/fix/{form['flow_id']}", json={"name": "Shed", "max_a": 20}
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["type"] == "create_entry"
        await hass.async_block_till_done()

        chargers = [
            subentry
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_CHARGER
        ]
        assert [(c.title, c.data["charge_point_id"], c.data["max_a"]) for c in chargers] == [
            ("Shed", "NEW-1", 20.0)
        ]
        await until(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None)
    finally:
        await ws.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
