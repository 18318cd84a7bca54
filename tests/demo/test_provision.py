"""demo.provision against Home Assistant's real HTTP API: config flow, options and subentries."""

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_load_balancer.const import DOMAIN
from custom_components.ev_load_balancer.meters import REGISTER_MAPS, MeterModel, PhaseReading
from demo import provision
from demo.meter import SimMeter, start_gateway
from tests.conftest import free_port


async def test_create_site_through_the_flows(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_access_token: str,
    socket_enabled: None,
) -> None:
    assert await async_setup_component(hass, "config", {})
    assert await async_setup_component(hass, "websocket_api", {})
    assert await async_setup_component(hass, "lovelace", {})
    client = await hass_client()
    base_url = str(client.make_url("")).rstrip("/")
    meter = SimMeter(unit_id=1, register_map=REGISTER_MAPS[MeterModel.EASTRON_SDM630])
    gateway = await start_gateway([meter])
    await meter.write_reading(
        PhaseReading(current_a=(3.0, 2.0, 1.0), voltage_v=(230.0, 231.0, 229.0), timestamp=0.0)
    )
    try:
        site = provision.SiteSpec(
            name="Flats",
            fuse_a=32,
            ocpp_port=free_port(),
            meter=provision.modbus_meter("127.0.0.1", gateway.port),
            options={"settle_s": 5},
        )
        chargers = [
            provision.ChargerSpec("A", "CP-A"),
            provision.ChargerSpec("B", "CP-B", phases=1, wiring="L2", max_a=32, priority=2),
        ]
        entry_id = await provision.create_site(base_url, hass_access_token, site, chargers)
        await hass.async_block_till_done()

        entry = hass.config_entries.async_get_entry(entry_id)
        assert entry is not None
        assert entry.domain == DOMAIN
        assert entry.title == "Flats"
        assert entry.data["fuse_a"] == 32
        assert entry.data["meter"]["port"] == gateway.port
        assert entry.options["settle_s"] == 5
        by_cp = {s.data["charge_point_id"]: s for s in entry.subentries.values()}
        assert by_cp["CP-B"].data["wiring"] == "L2"
        assert by_cp["CP-B"].data["priority"] == 2
        assert by_cp["CP-A"].title == "A"
        listed = await provision.site_entries(base_url, hass_access_token)
        assert [e["entry_id"] for e in listed] == [entry_id]

        # The dashboard shows the grid meter and every charger's limit and reason.
        path = await provision.create_dashboard(base_url, hass_access_token, entry_id, chargers=2)
        ws = await client.ws_connect("/api/websocket")
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": hass_access_token})
        await ws.receive_json()
        await ws.send_json({"id": 1, "type": "lovelace/config", "url_path": path})
        view = (await ws.receive_json())["result"]["views"][0]
        await ws.close()
        shown = [e for card in view["cards"] for e in card["entities"]]
        assert {"sensor.a_limit", "sensor.a_reason", "sensor.b_limit"} <= set(shown)
        assert "sensor.flats_meter_current_l1" in shown

        # The flow's own validation answers: the same charge point cannot be added twice.
        with pytest.raises(provision.ProvisionError, match="charger_exists"):
            await provision.add_charger(
                base_url, hass_access_token, entry_id, provision.ChargerSpec("A2", "CP-A")
            )
        await provision.delete_entry(base_url, hass_access_token, entry_id)
        await hass.async_block_till_done()
        assert hass.config_entries.async_get_entry(entry_id) is None
    finally:
        await gateway.server.shutdown()
