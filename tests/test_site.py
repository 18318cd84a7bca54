"""The site in Home Assistant: devices, entities, actions, events, store, diagnostics, repairs."""

import asyncio
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryDataWithId
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.ev_load_balancer import PLATFORMS
from custom_components.ev_load_balancer.const import DOMAIN
from custom_components.ev_load_balancer.coordinator import EVENT_FAILSAFE
from custom_components.ev_load_balancer.diagnostics import async_get_config_entry_diagnostics

from .conftest import (
    GRID_SENSORS,
    SiteFactory,
    charger_subentry,
    free_port,
    sensor_meter,
    site_data,
)

CARPORT = ConfigSubentryDataWithId(
    data={"parent": "site", "limit_a": 16.0, "meter_id": None},
    subentry_id="carport",
    subentry_type="group",
    title="Carport",
    unique_id=None,
)


def _grid(hass: HomeAssistant, *amps: float | str) -> None:
    for entity_id, value in zip(GRID_SENSORS, amps, strict=True):
        hass.states.async_set(entity_id, str(value), {"unit_of_measurement": "A"})


def _device(hass: HomeAssistant, entry: MockConfigEntry, title: str) -> str:
    for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id):
        if device.name == title:
            return device.id
    raise AssertionError(f"no device {title}")


def _subentry_id(entry: MockConfigEntry, title: str) -> str:
    return next(i for i, s in entry.subentries.items() if s.title == title)


@pytest.mark.freeze_time("2026-11-22 12:00:00+00:00")
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_entities(
    hass: HomeAssistant,
    setup_site: SiteFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    _grid(hass, 10, 11, 12)
    with patch("custom_components.ev_load_balancer.PLATFORMS", [platform]):
        entry = await setup_site(
            CARPORT,
            charger_subentry("CP-1", title="Drive"),
            charger_subentry("CP-2", title="Guest", phases=1, wiring="L2"),
            meter=sensor_meter(),
        )
    entities = er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    assert entities
    # The registry's own ids and timestamps vary from run to run; what users see does not.
    assert {
        entity.entity_id: {
            "unique_id": entity.unique_id,
            "translation_key": entity.translation_key,
            "device_class": entity.original_device_class,
            "unit": entity.unit_of_measurement,
            "category": entity.entity_category,
            "subentry": entry.subentries[entity.config_subentry_id].title
            if entity.config_subentry_id
            else None,
            "state": (state := hass.states.get(entity.entity_id)) and state.state,
            "attributes": state and dict(state.attributes),
        }
        for entity in sorted(entities, key=lambda e: e.entity_id)
    } == snapshot


async def test_devices_hang_from_the_site(hass: HomeAssistant, setup_site: SiteFactory) -> None:
    entry = await setup_site(CARPORT, charger_subentry("CP-1", title="Drive"))
    registry = dr.async_get(hass)
    site = registry.async_get(_device(hass, entry, "Garage"))
    drive = registry.async_get(_device(hass, entry, "Drive"))
    assert site is not None
    assert drive is not None
    assert drive.via_device_id == site.id
    assert drive.config_subentry_id == _subentry_id(entry, "Drive")


async def test_adding_a_charger_keeps_the_server_and_the_meters_running(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    _grid(hass, 10, 10, 10)
    entry = await setup_site(meter=sensor_meter())
    coordinator = entry.runtime_data.coordinator
    central = coordinator.central
    source = coordinator.meters["main"]
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "charger"), context={"source": "user"}
    )
    await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "name": "Drive",
            "charge_point_id": "CP-9",
            "connector_id": 1,
            "group": "site",
            "phases": "3",
            "wiring": "L1L2L3",
            "min_a": 6,
            "max_a": 16,
            "priority": 0,
        },
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator is coordinator
    assert coordinator.central is central
    assert central.port is not None
    assert hass.states.get("sensor.drive_limit") is not None
    assert [binding.charge_point_id for binding in coordinator.layout.chargers.values()] == ["CP-9"]
    # The meter was not restarted, so the site never lost its reading.
    assert coordinator.meters["main"] is source
    assert coordinator.data.result.failsafe_nodes == frozenset()


async def test_actions_change_priority_pause_and_limits(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    entry = await setup_site(CARPORT, charger_subentry("CP-1", title="Drive"))
    coordinator = entry.runtime_data.coordinator
    carport = _subentry_id(entry, "Carport")

    await hass.services.async_call(
        DOMAIN,
        "set_priority",
        {"device_id": _device(hass, entry, "Drive"), "priority": 7},
        blocking=True,
    )
    assert hass.states.get("number.drive_priority").state == "7"
    await hass.services.async_call(
        DOMAIN, "pause_charger", {"device_id": _device(hass, entry, "Drive")}, blocking=True
    )
    assert hass.states.get("switch.drive_charging_allowed").state == "off"
    assert coordinator.layout.site.chargers[0].enabled is False
    await hass.services.async_call(
        DOMAIN, "resume_charger", {"device_id": _device(hass, entry, "Drive")}, blocking=True
    )
    assert hass.states.get("switch.drive_charging_allowed").state == "on"
    await hass.services.async_call(
        DOMAIN,
        "set_limit",
        {"device_id": _device(hass, entry, "Carport"), "limit_a": 10},
        blocking=True,
    )
    assert next(n for n in coordinator.layout.site.nodes if n.id == carport).limit_a == (
        10.0,
        10.0,
        10.0,
    )
    await hass.services.async_call(
        DOMAIN,
        "set_strategy",
        {"device_id": _device(hass, entry, "Garage"), "strategy": "first_come"},
        blocking=True,
    )
    assert hass.states.get("select.garage_strategy").state == "first_come"


@pytest.mark.parametrize(
    ("service", "data", "device", "key"),
    [
        ("set_priority", {"priority": 1}, "Carport", "not_a_charger"),
        ("pause_charger", {}, "Garage", "not_a_charger"),
        ("set_limit", {"limit_a": 20}, "Drive", "not_a_group"),
        ("set_limit", {"limit_a": 17}, "Carport", "limit_above_wired"),
        ("set_limit", {"limit_a": 26}, "Garage", "limit_above_wired"),
        ("set_strategy", {"strategy": "first_come"}, "Drive", "not_a_site"),
        ("set_priority", {"priority": 1}, None, "unknown_device"),
    ],
)
async def test_actions_refuse_bad_input(
    hass: HomeAssistant,
    setup_site: SiteFactory,
    service: str,
    data: dict[str, Any],
    device: str | None,
    key: str,
) -> None:
    entry = await setup_site(CARPORT, charger_subentry("CP-1", title="Drive"))
    device_id = "nope" if device is None else _device(hass, entry, device)
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN, service, {"device_id": device_id, **data}, blocking=True
        )
    assert raised.value.translation_key == key


async def test_settings_survive_a_restart(hass: HomeAssistant, setup_site: SiteFactory) -> None:
    entry = await setup_site(charger_subentry("CP-1", title="Drive"))
    await hass.services.async_call(
        DOMAIN,
        "set_priority",
        {"device_id": _device(hass, entry, "Drive"), "priority": 5},
        blocking=True,
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    assert coordinator.settings.priorities == {_subentry_id(entry, "Drive"): 5}
    assert coordinator.layout.site.chargers[0].priority == 5
    assert hass.states.get("number.drive_priority").state == "5"


async def test_a_limit_set_at_run_time_never_exceeds_a_fuse_lowered_later(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    entry = await setup_site(charger_subentry("CP-1", title="Drive"))
    await hass.services.async_call(
        DOMAIN,
        "set_limit",
        {"device_id": _device(hass, entry, "Garage"), "limit_a": 24},
        blocking=True,
    )
    # The installer fits a smaller main fuse and reconfigures the site.
    hass.config_entries.async_update_entry(entry, data={**entry.data, "fuse_a": 16})
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    assert coordinator.settings.limits_a == {"site": 24}
    assert coordinator.layout.site.nodes[0].limit_a == (16.0, 16.0, 16.0)


async def test_unusable_tls_files_stop_the_site_with_a_reason(
    hass: HomeAssistant, setup_site: SiteFactory, tmp_path: Path
) -> None:
    missing = str(tmp_path / "gone.pem")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Garage",
        data=site_data(free_port(), certfile=missing, keyfile=missing),
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "gone.pem" in entry.reason or "No such file" in entry.reason


async def test_lost_sensor_meter_engages_failsafe(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    events = async_capture_events(hass, EVENT_FAILSAFE)
    _grid(hass, 10, 10, 10)
    entry = await setup_site(charger_subentry("CP-1"), meter=sensor_meter())
    coordinator = entry.runtime_data.coordinator
    assert hass.states.get("binary_sensor.garage_failsafe").state == "off"
    assert hass.states.get("binary_sensor.garage_meter_stale").state == "off"

    _grid(hass, 10, "unavailable", 10)
    await hass.async_block_till_done()
    await coordinator.async_refresh()

    assert "site" in coordinator.data.result.failsafe_nodes
    assert hass.states.get("binary_sensor.garage_failsafe").state == "on"
    assert hass.states.get("binary_sensor.garage_meter_stale").state == "on"
    assert ir.async_get(hass).async_get_issue(DOMAIN, "meter_lost_main") is not None
    assert [event.data for event in events] == [{"node_id": "site", "engaged": True}]

    _grid(hass, 10, 10, 10)
    await hass.async_block_till_done()
    await coordinator.async_refresh()
    assert hass.states.get("binary_sensor.garage_failsafe").state == "off"
    assert ir.async_get(hass).async_get_issue(DOMAIN, "meter_lost_main") is None
    assert events[-1].data == {"node_id": "site", "engaged": False}


async def test_a_rising_load_runs_the_loop_without_waiting_for_the_cycle_spacing(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    _grid(hass, 10, 10, 10)
    entry = await setup_site(charger_subentry("CP-1"), meter=sensor_meter())
    coordinator = entry.runtime_data.coordinator
    _grid(hass, 11, 10, 10)  # a rise of 1 A runs a cycle, which starts the spacing
    await hass.async_block_till_done()
    headroom_a = coordinator.data.result.headroom_a["site"][0]

    _grid(hass, 11.5, 10, 10)  # an ordinary reading waits for the spacing
    await hass.async_block_till_done()
    assert coordinator.data.result.headroom_a["site"][0] == headroom_a

    _grid(hass, 16, 10, 10)
    await hass.async_block_till_done()
    assert coordinator.data.result.headroom_a["site"][0] == pytest.approx(headroom_a - 5)


async def test_a_meter_not_read_yet_is_announced_lost_only_after_its_timeout(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    events = async_capture_events(hass, EVENT_FAILSAFE)
    # The sensors do not exist yet: the engine runs on failsafe from the first loop ...
    entry = await setup_site(charger_subentry("CP-1"), meter=sensor_meter())
    hass.config_entries.async_update_entry(entry, options={"meter_timeout_s": 2})
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    await coordinator.async_refresh()
    assert "site" in coordinator.data.result.failsafe_nodes
    # ... but a meter that has not had its first chance to answer is not called lost.
    assert events == []
    await asyncio.sleep(2.1)
    await coordinator.async_refresh()
    assert [event.data for event in events] == [{"node_id": "site", "engaged": True}]


async def test_removed_group_pauses_its_chargers(
    hass: HomeAssistant, setup_site: SiteFactory
) -> None:
    entry = await setup_site(CARPORT, charger_subentry("CP-1", title="Drive", group="placeholder"))
    coordinator = entry.runtime_data.coordinator
    drive = _subentry_id(entry, "Drive")
    assert coordinator.layout.orphans == {drive}
    await coordinator.async_apply_config()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "orphan_chargers") is not None
    (charger,) = coordinator.layout.site.chargers
    assert (charger.id, charger.enabled, charger.group) == (drive, False, "site")


async def test_diagnostics_redact_secrets(hass: HomeAssistant, setup_site: SiteFactory) -> None:
    entry = await setup_site(charger_subentry("CP-1", password="hunter2"))
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert "hunter2" not in repr(diagnostics)
    (charger,) = diagnostics["subentries"].values()
    assert charger["data"]["password"] == "**REDACTED**"
    assert diagnostics["site"]["chargers"][0]["max_a"] == 16.0
