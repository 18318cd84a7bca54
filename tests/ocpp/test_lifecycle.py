"""Reconnects, replaced connections, stopping the server, cancellation, and a round trip."""

import asyncio
from datetime import timedelta
import socket
import statistics
import time
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call
from ocpp.v16.enums import Action
import pytest

from custom_components.ev_load_balancer.ocpp import (
    CentralSystem,
    CentralSystemSettings,
    ChargerConfig,
    EventType,
    LimitResult,
)
from demo.chargepoint import SimCharger16, run

from .conftest import Harness


async def test_reboot_restores_profiles(harness: Harness) -> None:
    await harness.start(failsafe_current_a=6.0)
    charger = await harness.booted16("CP1")
    await charger.start_transaction(1)
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)
    await charger._connection.close()
    await harness.until(lambda: not harness.state("CP1").connected)

    # The charger reboots with its profiles gone; the transaction was lost with them.
    rebooted = await harness.charger16("CP1")
    await rebooted.boot()
    await harness.until(lambda: 201 in rebooted.sim.profiles)

    assert rebooted.sim.profiles[100].limit == 6.0
    assert rebooted.sim.profiles[201].limit == 16.0
    assert rebooted.sim.offered(1) == 16.0
    # Same firmware: the configuration read before still holds.
    assert "GetConfiguration" not in rebooted.sim.requests
    assert [e.type for e in harness.events].count(EventType.DISCONNECTED) == 1


async def test_reconnect_without_reboot_rewrites_nothing(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)
    await charger._connection.close()
    await harness.until(lambda: not harness.state("CP1").connected)

    again = await harness.charger16("CP1")
    again.sim.profiles = charger.sim.profiles
    await again.call(call.Heartbeat(), suppress=False)
    harness.clock.advance(minutes=3)
    outcome = await harness.central.apply_limit("CP1", 1, 16.0)

    # Only the lease, past its half while the charger was away, was renewed.
    assert outcome.sent
    assert again.sim.requests == ["SetChargingProfile"]
    assert harness.state("CP1").connected


async def test_stale_request_is_not_restored(harness: Harness) -> None:
    await harness.start(lease=timedelta(minutes=5))
    charger = await harness.booted16("CP1")
    assert harness.central is not None
    await harness.central.apply_limit("CP1", 1, 16.0)
    await charger._connection.close()
    await harness.until(lambda: not harness.state("CP1").connected)
    harness.clock.advance(minutes=6)

    rebooted = await harness.charger16("CP1")
    await rebooted.boot()
    await harness.until(lambda: 100 in rebooted.sim.profiles)

    assert 201 not in rebooted.sim.profiles
    assert rebooted.sim.offered(1) == 6.0


async def test_new_connection_replaces_old(harness: Harness) -> None:
    await harness.start()
    first = await harness.booted16("CP1")

    second = await harness.charger16("CP1")
    await second.call(call.Heartbeat(), suppress=False)

    with pytest.raises(Exception, match="replaced"):
        await first.call(call.Heartbeat(), suppress=False)
    assert harness.state("CP1").connected
    assert EventType.DISCONNECTED not in {e.type for e in harness.events}


async def test_disconnect_and_forget(harness: Harness) -> None:
    await harness.start()
    await harness.booted16("CP1")
    assert harness.central is not None

    await harness.central.disconnect("CP1")
    await harness.until(lambda: not harness.state("CP1").connected)
    harness.central.forget("CP1")

    assert "CP1" not in harness.central.chargers


async def test_stop_leaves_nothing_behind(harness: Harness) -> None:
    await harness.start()
    assert harness.central is not None
    port = harness.central.port
    assert port is not None
    first = await harness.booted16("CP1")
    second = await harness.booted201("CS2")

    await harness.central.stop()
    await first._connection.wait_closed()
    await second._connection.wait_closed()

    assert first._connection.close_code == 1001
    assert second._connection.close_code == 1001
    assert not harness.state("CP1").connected
    assert not harness.state("CS2").connected
    assert harness.central.port is None
    assert [e.type for e in harness.events].count(EventType.DISCONNECTED) == 2
    outcome = await harness.central.apply_limit("CP1", 1, 10.0)
    assert outcome.result is LimitResult.NOT_CONNECTED
    # The port is free again.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


class _SilentCharger(SimCharger16):
    """Never answers a charging profile."""

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, **_: Any) -> Any:
        self.sim.requests.append("SetChargingProfile")
        await asyncio.Event().wait()


async def test_stop_ends_requests_in_flight(harness: Harness) -> None:
    harness.configs["CP1"] = ChargerConfig()
    await harness.start(response_timeout_s=30.0)
    assert harness.central is not None
    charger = _SilentCharger("CP1", await harness.open("CP1"))
    serving = asyncio.create_task(run(charger))
    await charger.boot()
    await harness.until(lambda: "SetChargingProfile" in charger.sim.requests)

    pending = asyncio.create_task(harness.central.apply_limit("CP1", 1, 10.0))
    await asyncio.sleep(0.05)
    async with asyncio.timeout(2):
        await harness.central.stop()
        outcome = await pending

    assert outcome.result is LimitResult.NOT_CONNECTED
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)


async def test_cancelled_caller_leaves_charger_usable(harness: Harness) -> None:
    await harness.start()
    charger = await harness.booted16("CP1")
    assert harness.central is not None

    task = asyncio.create_task(harness.central.apply_limit("CP1", 1, 10.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    outcome = await harness.central.apply_limit("CP1", 1, 12.0)

    assert outcome.result is LimitResult.ACCEPTED
    assert charger.sim.profiles[201].limit == 12.0


async def test_set_charging_profile_round_trip(harness: Harness) -> None:
    """Measure, not assert: loopback round trip of SetChargingProfile through apply_limit."""
    await harness.start(min_change_a=0.1)
    charger = await harness.booted16("CP1")
    await charger.start_transaction(1)
    assert harness.central is not None
    samples = []
    for number in range(200):
        started = time.perf_counter()
        outcome = await harness.central.apply_limit("CP1", 1, 10.0 + number % 2)
        samples.append(time.perf_counter() - started)
        assert outcome.sent
    samples.sort()
    print(  # noqa: T201
        f"\nSetChargingProfile round trip on loopback over {len(samples)} calls: "
        f"median {statistics.median(samples) * 1000:.2f} ms, "
        f"p95 {samples[int(len(samples) * 0.95)] * 1000:.2f} ms, "
        f"max {samples[-1] * 1000:.2f} ms"
    )


async def test_port_in_use_raises_and_leaves_nothing_behind(harness: Harness) -> None:
    first = await harness.start()
    second = CentralSystem(
        CentralSystemSettings(host="127.0.0.1", port=first.port or 0),
        charger_config=lambda _: None,
    )

    with pytest.raises(OSError, match="address already in use"):
        await second.start()

    assert second.port is None
    await second.stop()
