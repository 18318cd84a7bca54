"""The demo's devices (grid meter and charge points) balanced by the integration in Home Assistant."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.ev_load_balancer.const import DOMAIN
from custom_components.ev_load_balancer.coordinator import SiteCoordinator
from demo.building import building_load
from demo.site import CHARGERS, DemoDevices
from tests.conftest import SiteFactory, charger_subentry, free_port, until

HOUR = 16.5
"""Driveway, Carport and Visitor each have a car; so has the neighbour, pending."""
PLAYED = ("DEMO-DRIVEWAY", "DEMO-CARPORT", "DEMO-VISITOR", "DEMO-NEIGHBOUR")


async def test_demo_devices_are_balanced(hass: HomeAssistant, setup_site: SiteFactory) -> None:
    port = free_port()
    chargers = [c for c in CHARGERS if c.charge_point_id in PLAYED]
    devices = DemoDevices(
        ocpp_url=f"ws://127.0.0.1:{port}",
        modbus_port=0,
        chargers=chargers,
        hour=lambda: HOUR,
        tick_s=0.1,
        meter_values_s=0.5,
        reconnect_s=0.2,
    )
    await devices.start()
    try:
        entry = await setup_site(
            *(
                charger_subentry(
                    c.charge_point_id,
                    title=c.spec.name,
                    phases=c.spec.phases,
                    wiring=c.spec.wiring,
                    max_a=c.spec.max_a,
                )
                for c in chargers
                if c.added
            ),
            fuse_a=32,
            ocpp_port=port,
            meter={
                "meter_type": "modbus",
                "model": "eastron_sdm630",
                "framing": "tcp",
                "host": "127.0.0.1",
                "port": devices.modbus_port,
                "unit_id": 1,
                "includes_chargers": True,
            },
        )
        hass.config_entries.async_update_entry(entry, options={"settle_s": 0})
        await hass.async_block_till_done()
        coordinator: SiteCoordinator = entry.runtime_data.coordinator
        runners = {r.charger.charge_point_id: r for r in devices.runners}
        added = [cp_id for cp_id in PLAYED if cp_id != "DEMO-NEIGHBOUR"]

        def limits() -> dict[str, float]:
            if coordinator.data is None:
                return {}
            return {
                binding.charge_point_id: coordinator.data.result.limits[charger_id].limit_a
                for charger_id, binding in coordinator.layout.chargers.items()
                if charger_id in coordinator.data.result.limits
            }

        # Every added charger gets a car session and a limit it applies; the meter sees it.
        await until(lambda: all(runners[cp].charging for cp in added))
        await until(lambda: all(limits().get(cp, 0) >= 6 for cp in added))
        await until(
            lambda: all(
                abs(runners[cp].draw()[0] - min(limits()[cp], runners[cp].state.car.max_a)) < 0.6
                for cp in added
            )
        )
        # L2 feeds all three: what they are given fits under 30 A less the building's load.
        room_l2 = 30 - building_load(HOUR)[1]
        assert sum(limits()[cp] for cp in added) <= room_l2 + 0.5
        assert devices.lines()[1] <= 30.5

        # The charge point nobody added waits pending, with a repair to adopt it.
        assert not runners["DEMO-NEIGHBOUR"].accepted
        assert not runners["DEMO-NEIGHBOUR"].charging
        await until(
            lambda: ir.async_get(hass).async_get_issue(DOMAIN, "pending_charger_DEMO-NEIGHBOUR")
        )
    finally:
        await devices.stop()
