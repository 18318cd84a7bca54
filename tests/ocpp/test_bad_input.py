"""A misbehaving charger gets a CallError or loses its own socket; nobody else notices."""

import asyncio
from contextlib import suppress
import json
from typing import Any

from ocpp.v16 import call
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from custom_components.ev_load_balancer.ocpp import ChargerConfig

from .conftest import Harness


async def _answer(ws: ClientConnection, unique_id: str) -> list[Any]:
    """The server's answer to our frame, skipping the requests it sends meanwhile."""
    while True:
        frame = json.loads(await ws.recv())
        if frame[0] in (3, 4) and frame[1] == unique_id:
            return frame


async def _closed_with(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; return its close code."""
    async with asyncio.timeout(3):
        with suppress(ConnectionClosed):
            async for _ in ws:
                pass
    return ws.close_code


@pytest.mark.parametrize(
    ("frame", "unique_id", "error_code"),
    [
        ("{not json", "-1", "FormationViolation"),
        ('{"an": "object"}', "-1", "ProtocolError"),
        ('[2, "m1"]', "m1", "ProtocolError"),
        ('[9, "m2", "Heartbeat", {}]', "m2", "PropertyConstraintViolation"),
        ('[2, "m3", "MakeCoffee", {}]', "m3", "NotSupported"),
        ('[2, "m4", "SignCertificate", {"csr": "x"}]', "m4", "NotImplemented"),
        ('[2, "m5", "StatusNotification", {"connectorId": 1}]', "m5", "ProtocolError"),
        (
            (
                '[2, "m6", "StatusNotification", '
                '{"connectorId": 1, "errorCode": "NoError", "status": "Dancing"}]'
            ),
            "m6",
            "FormatViolation",
        ),
        (
            '[2, "m7", "MeterValues", {"connectorId": "one", "meterValue": []}]',
            "m7",
            "TypeConstraintViolation",
        ),
        ('[2, "m8", ["Heartbeat"], {}]', "m8", "FormationViolation"),
        ('[2, "m9", {"action": "Heartbeat"}, {}]', "m9", "FormationViolation"),
    ],
    ids=[
        "malformed json",
        "not a list",
        "missing elements",
        "unknown message type",
        "unknown action",
        "unhandled action",
        "missing field",
        "invalid enum",
        "wrong type",
        "action a list",
        "action an object",
    ],
)
async def test_bad_frame_gets_call_error_and_connection_survives(
    harness: Harness, frame: str, unique_id: str, error_code: str
) -> None:
    harness.configs["BAD"] = ChargerConfig()
    await harness.start()
    ws = await harness.open("BAD")

    await ws.send(frame)
    answer = await _answer(ws, unique_id)
    await ws.send(json.dumps([2, "hb", "Heartbeat", {}]))
    heartbeat = await _answer(ws, "hb")

    assert answer[:3] == [4, unique_id, error_code]
    assert heartbeat[0] == 3
    assert harness.state("BAD").connected


async def test_oversized_frame_closes_only_that_socket(harness: Harness) -> None:
    harness.configs["BAD"] = ChargerConfig()
    await harness.start(max_frame_bytes=4096)
    good = await harness.booted16("GOOD")
    bad = await harness.open("BAD")

    await bad.send(json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": "a" * 8192}]))

    assert await _closed_with(bad) == 1009
    await harness.until(lambda: not harness.state("BAD").connected)
    assert (await good.call(call.Heartbeat(), suppress=False)).current_time
    assert harness.state("GOOD").connected


async def test_flood_closes_only_that_socket(harness: Harness) -> None:
    harness.configs["BAD"] = ChargerConfig()
    await harness.start(max_messages_per_s=1.0, max_message_burst=5, max_pending_frames=10)
    good = await harness.booted16("GOOD")
    bad = await harness.open("BAD")

    # Requests without waiting for answers: frames pile up faster than they are answered.
    for number in range(100):
        await bad.send(json.dumps([2, f"f{number}", "Heartbeat", {}]))

    assert await _closed_with(bad) == 1008
    assert (await good.call(call.Heartbeat(), suppress=False)).current_time
    assert harness.state("GOOD").connected


async def test_garbage_flood_closes_socket(harness: Harness) -> None:
    harness.configs["BAD"] = ChargerConfig()
    await harness.start(max_messages_per_s=1.0, max_message_burst=5, max_pending_frames=5)
    bad = await harness.open("BAD")

    for _ in range(20):
        await bad.send("garbage")

    assert await _closed_with(bad) == 1008


async def test_fast_charger_is_paced_not_cut_off(harness: Harness) -> None:
    await harness.start(max_messages_per_s=100.0, max_message_burst=5)
    charger = await harness.booted16("FAST")
    loop = asyncio.get_running_loop()

    started = loop.time()
    for _ in range(30):
        await charger.call(call.Heartbeat(), suppress=False)
    elapsed = loop.time() - started

    # Like a charger emptying its offline queue: every request answered, at the allowed pace.
    assert elapsed >= (30 - 5) / 100 * 0.9
    assert harness.state("FAST").connected


async def test_binary_frame_closes_socket(harness: Harness) -> None:
    harness.configs["BAD"] = ChargerConfig()
    await harness.start()
    bad = await harness.open("BAD")

    await bad.send(b"\x00\x01")

    assert await _closed_with(bad) == 1003


async def test_listener_failure_does_not_break_the_connection(harness: Harness) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    await harness.start(listener=broken)
    charger = await harness.booted16("CP1")

    await charger.status(1, "Available")

    assert harness.state("CP1").connectors[1].status == "Available"


async def test_call_errors_with_unknown_codes_do_not_stop_the_set_up(harness: Harness) -> None:
    """A charger of another OCPP version's habits answers every request with a CallError
    code 1.6 does not know: set-up goes on to the failsafe profile, which is seen refused."""
    harness.configs["ODD"] = ChargerConfig()
    await harness.start()
    ws = await harness.open("ODD")
    await ws.send(
        json.dumps(
            [2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
        )
    )
    asked: list[str] = []
    async with asyncio.timeout(5):
        while "SetChargingProfile" not in asked:
            frame = json.loads(await ws.recv())
            if frame[0] == 2:
                asked.append(frame[2])
                await ws.send(json.dumps([4, frame[1], "RpcFrameworkError", "no", {}]))
    await harness.until(lambda: harness.state("ODD").failsafe.accepted is False)

    assert asked[0] == "GetConfiguration"
    assert harness.state("ODD").connected
