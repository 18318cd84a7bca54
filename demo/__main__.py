"""Run the demo site next to a Home Assistant: `python -m demo --config config`.

Starts the simulated meter and charge points, waits for Home Assistant, and on its first
start onboards it (owner `demo`, password `demo-site`) and adds the demo site with its
chargers through the config flows. A marker file in the configuration directory remembers
that it did, so later starts only run the devices. Stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path
import signal
import time

from demo import provision
from demo.building import DemoClock
from demo.site import CHARGERS, DemoDevices, demo_site

_LOGGER = logging.getLogger("demo")
MARKER = ".ev_load_balancer_demo.json"
ENERGY_FILE = ".ev_load_balancer_demo_energy.json"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("config"), help="HA config dir")
    parser.add_argument("--ha-url", default=provision.DEFAULT_BASE_URL)
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="demo-site")
    parser.add_argument("--ocpp-port", type=int, default=9000)
    parser.add_argument("--modbus-port", type=int, default=5020)
    parser.add_argument(
        "--day-minutes", type=float, default=30.0, help="real minutes per simulated day"
    )
    parser.add_argument("--start-hour", type=float, default=16.0)
    parser.add_argument(
        "--meter-values-s",
        type=float,
        default=None,
        help="seconds between the chargers' meter values (default: what Home Assistant set)",
    )
    parser.add_argument("--no-provision", action="store_true", help="only run the devices")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args()


def _banner(lines: list[str]) -> None:
    width = max(len(line) for line in lines) + 4
    print("\n" + "=" * width, flush=True)
    for line in lines:
        print(f"  {line}", flush=True)
    print("=" * width + "\n", flush=True)


async def _token(args: argparse.Namespace) -> str | None:
    """Log in as the demo's owner, onboarding Home Assistant first if nobody has."""
    if not await provision.is_onboarded(args.ha_url):
        _LOGGER.info("onboarding Home Assistant: owner %s", args.user)
        return await provision.onboard(args.ha_url, args.user, args.password, name="Demo")
    try:
        return await provision.login(args.ha_url, args.user, args.password)
    except provision.ProvisionError:
        return None


async def _provision(args: argparse.Namespace, modbus_port: int) -> str | None:
    """Make sure the demo site exists; its entry id, or None when it cannot be added."""
    marker = args.config / MARKER
    started = time.monotonic()
    await provision.wait_until_up(args.ha_url, timeout_s=900)
    _LOGGER.info("Home Assistant answers after %.0f s", time.monotonic() - started)
    if marker.exists():
        return str(json.loads(marker.read_text())["entry_id"])
    token = await _token(args)
    if token is None:
        _LOGGER.warning(
            "Home Assistant was onboarded with another owner: log in as %s failed,"
            " add the site yourself (meter: Modbus TCP 127.0.0.1:%s unit 1, OCPP port %s)",
            args.user,
            modbus_port,
            args.ocpp_port,
        )
        return None
    entries = await provision.site_entries(args.ha_url, token)
    if entries:
        # A site added by hand (or a marker lost): do not add a second one on the same port.
        entry_id = str(entries[0]["entry_id"])
    else:
        site = demo_site(ocpp_port=args.ocpp_port, modbus_port=modbus_port)
        chargers = [charger.spec for charger in CHARGERS if charger.added]
        entry_id = await provision.create_site(args.ha_url, token, site, chargers)
        _LOGGER.info("demo site added: %s chargers", len(chargers))
        try:
            path = await provision.create_dashboard(
                args.ha_url, token, entry_id, chargers=len(chargers)
            )
        except provision.ProvisionError as err:
            _LOGGER.warning("no demo dashboard: %s", err)
        else:
            _LOGGER.info("dashboard: %s/%s", args.ha_url, path)
    marker.write_text(json.dumps({"entry_id": entry_id, "user": args.user}) + "\n")
    return entry_id


async def _main(args: argparse.Namespace) -> None:
    clock = DemoClock(day_s=args.day_minutes * 60, start_h=args.start_hour)
    began = time.monotonic()
    devices = DemoDevices(
        ocpp_url=f"ws://127.0.0.1:{args.ocpp_port}",
        modbus_port=args.modbus_port,
        hour=lambda: clock.hour(time.monotonic() - began),
        state_path=args.config / ENERGY_FILE,
        meter_values_s=args.meter_values_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await devices.start()
    _LOGGER.info(
        "demo devices: SDM630 on 127.0.0.1:%s unit 1, %s charge points to ws://127.0.0.1:%s/",
        devices.modbus_port,
        len(devices.runners),
        args.ocpp_port,
    )
    try:
        if not args.no_provision:
            await _provision_and_greet(args, devices.modbus_port, stop)
        await stop.wait()
    finally:
        await devices.stop()
        _LOGGER.info("demo devices stopped")


async def _provision_and_greet(
    args: argparse.Namespace, modbus_port: int, stop: asyncio.Event
) -> None:
    """Set the site up (unless stopped first) and say where to look."""
    provisioning = asyncio.create_task(_provision(args, modbus_port))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({provisioning, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        provisioning.cancel()
        await asyncio.gather(provisioning, stopping, return_exceptions=True)
    if provisioning.cancelled():
        return
    if (error := provisioning.exception()) is not None:
        _LOGGER.error("could not set up the demo site: %s", error)
    elif provisioning.result() is not None:
        _banner(
            [
                f"EV Load Balancer demo: open {args.ha_url}",
                f"log in as user '{args.user}', password '{args.password}'",
                f"a simulated day lasts {args.day_minutes:g} minutes",
                "the pending charger DEMO-NEIGHBOUR waits in Settings > Repairs",
            ]
        )


def main() -> None:
    args = _parse()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s demo: %(message)s",
        datefmt="%H:%M:%S",
    )
    # The simulated devices' protocol chatter is only of interest with --verbose.
    for noisy in ("ocpp", "pymodbus", "websockets"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
