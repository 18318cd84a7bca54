"""The integration in a real browser: Home Assistant's own frontend, driven by Playwright.

A `hass` process runs in a temporary configuration directory next to a simulated SDM630 on
Modbus TCP and an OCPP 1.6 charge point nobody has added. Chromium then does what a new user
does: onboarding, adding the site, adopting the pending charger and changing its priority,
checking each outcome over Home Assistant's REST and websocket APIs. With
EVLB_SCREENSHOTS=<dir> the screenshots are kept there (docs/screenshots/ for the README).

Needs Debian's chromium and the playwright package (scripts/setup installs both).
"""

import asyncio
import base64
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from custom_components.ev_load_balancer.meters import REGISTER_MAPS, MeterModel, PhaseReading
from demo.chargepoint import Car, SimCharger16, run
from demo.meter import MeterGateway, SimMeter, start_gateway
from tests.conftest import free_port

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Locator, Page

playwright = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (scripts/setup installs it)"
)
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (scripts/setup installs Debian's chromium)"
)

REPO = Path(__file__).resolve().parents[2]
SITE = "Browser site"
CHARGER = "Garage"
CP_ID = "CP-GARAGE-7"  # the id the charger uses; nobody has added it
# What the meter measures, the building without the chargers: the 32 A fuse less a 2 A
# margin leaves 10 A on L2 for the car.
BUILDING_A = (18.0, 20.0, 19.0)
HA_START_S = 300  # a first start on a fresh clone installs the frontend's packages
# Other integrations' icons come from the brands CDN, out of reach here: a blank one instead
# of a broken image in the screenshots (the integration's own are served from its brand/).
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
)

# All text under an element, shadow roots included.
DEEP_TEXT = """e => {
  const parts = [];
  const walk = node => {
    if (node.nodeType === Node.TEXT_NODE) parts.push(node.textContent);
    if (node.shadowRoot) walk(node.shadowRoot);
    node.childNodes.forEach(walk);
  };
  walk(e);
  return parts.join(" ");
}"""

CONFIGURATION_YAML = """\
# As config/configuration.yaml; the HTTP port comes from SETUP_PORT (an `http:` block is
# migrated to storage as an unconfirmed trial that reverts to port 8123 after five minutes).
homeassistant:
  name: Browser test
  unit_system: metric
  time_zone: Europe/Stockholm
  country: SE
frontend:
config:
history:
logbook:
energy:
logger:
  default: info
  logs:
    custom_components.ev_load_balancer: debug
"""


@dataclass
class ChargePoint:
    """A charger as the test sees it: boots until accepted, then charges one car."""

    ocpp_port: int
    pending_boots: int = 0
    accepted: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Like a real charger: reconnect when dropped, boot again while pending."""
        while True:
            with contextlib.suppress(Exception):
                await self._session()
            await asyncio.sleep(0.5)

    async def _session(self) -> None:
        async with connect(
            f"ws://127.0.0.1:{self.ocpp_port}/{CP_ID}",
            subprotocols=[Subprotocol("ocpp1.6")],
            open_timeout=5,
        ) as ws:
            charger = SimCharger16(CP_ID, ws, car=Car(phases=3, max_a=16.0))
            serving = asyncio.create_task(run(charger))
            try:
                # Pending answers ask for a new boot in 60 s; a second keeps the test short.
                while (await charger.boot()).status != "Accepted":
                    self.pending_boots += 1
                    await asyncio.sleep(1)
                self.accepted.set()
                await charger.status(1, "Preparing")
                await charger.start_transaction(1)
                await charger.status(1, "Charging")
                while not serving.done():
                    charger.sim.now = datetime.now(UTC)
                    await charger.meter_values(1)
                    await asyncio.sleep(1)
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)


def reading(currents: tuple[float, float, float]) -> PhaseReading:
    l1, l2, l3 = currents
    return PhaseReading(
        current_a=currents,
        voltage_v=(230.0, 230.0, 230.0),
        power_w=(230.0 * l1, 230.0 * l2, 230.0 * l3),
        timestamp=0.0,
    )


class HomeAssistant:
    """A `hass` process in its own configuration directory, and its REST API."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        (config_dir / "configuration.yaml").write_text(CONFIGURATION_YAML)
        (config_dir / "custom_components").symlink_to(REPO / "custom_components")

    @property
    def log(self) -> str:
        path = self.config_dir / "home-assistant.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def start(self) -> None:
        with (self.config_dir / "hass.out").open("wb") as out:
            self.process = subprocess.Popen(  # noqa: ASYNC220, S603 - returns at once; our argv
                [sys.executable, "-m", "homeassistant", "--config", str(self.config_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SETUP_PORT": str(self.port)},
                start_new_session=True,
            )
        deadline = time.monotonic() + HA_START_S
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.poll() is not None:
                    pytest.fail(f"hass exited with {self.process.returncode}:\n{self.tail()}")
                # HTTP answers while a first start still installs packages and sets up the
                # integrations the onboarding pages use; the log says when it is done.
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.url}/api/onboarding") as response:
                        if response.status == 200 and "Home Assistant initialized in" in self.log:
                            return
                if time.monotonic() > deadline:
                    pytest.fail(f"hass did not answer within {HA_START_S} s:\n{self.tail()}")
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def tail(self, lines: int = 60) -> str:
        """The integration's records and every error's first line (not the tracebacks of the
        integrations onboarding adds, which fail offline)."""
        out = self.config_dir / "hass.out"
        text = self.log or (out.read_text(errors="replace") if out.exists() else "")
        kept = [
            line
            for line in text.splitlines()
            if "ev_load_balancer" in line or re.match(r"\S+ \S+ (ERROR|CRITICAL) ", line)
        ]
        return "\n".join(kept[-lines:])

    async def get(self, path: str) -> Any:
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"}) as session,
            session.get(f"{self.url}{path}") as response,
        ):
            response.raise_for_status()
            return await response.json()

    async def wait_for_states(
        self, expected: dict[str, str | Callable[[str | None], bool]], timeout_s: float = 30
    ) -> dict[str, str | None]:
        """Wait until every entity has its state (or one the callable accepts); return them."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = {s["entity_id"]: s["state"] for s in await self.get("/api/states")}
            actual = {entity_id: states.get(entity_id) for entity_id in expected}
            if all(
                want(actual[entity_id]) if callable(want) else actual[entity_id] == want
                for entity_id, want in expected.items()
            ):
                return actual
            if time.monotonic() > deadline:
                pytest.fail(f"expected {expected}, Home Assistant has {actual}")
            await asyncio.sleep(0.5)

    def integration_errors(self) -> list[str]:
        """ERROR records of the integration, or with a traceback through its code."""
        records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", self.log)
        return [
            record
            for record in records
            if re.match(r"\S+ \S+ (ERROR|CRITICAL) ", record) and "ev_load_balancer" in record
        ]


class Ui:
    """Home Assistant's frontend: its forms are web components with open shadow roots."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots

    @property
    def dialog(self) -> Locator:
        return self.page.locator("dialog-data-entry-flow")

    def field(self, label: str) -> Locator:
        """The input of a form field, found by its label ("Main fuse", shown "Main fuse*")."""
        name = self.page.locator('slot[name="label"]').filter(
            has_text=re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$")
        )
        return self.dialog.locator("ha-selector").filter(has=name).locator("input")

    async def choose(self, label: str, option: str) -> None:
        await self.dialog.locator(f'ha-picker-field[aria-label="{label}"]').click()
        await (
            self.dialog.locator("ha-dropdown-item")
            .filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$"))
            .click()
        )

    async def step(self, title: str) -> None:
        """Wait for a flow step and check that its texts are all translated."""
        await playwright.expect(self.dialog.get_by_text(title, exact=True)).to_be_visible()
        # Descriptions are markdown rendered in a worker, after the title: wait for the text
        # to settle before looking for errors in it.
        text, previous = "", None
        for _ in range(20):
            if text == previous:
                break
            await self.page.wait_for_timeout(150)
            text, previous = await self.dialog.evaluate(DEEP_TEXT), text
        for error in re.findall(r"Translation error: \w+", text):
            pytest.fail(f"step {title!r} shows {error!r}")

    async def press(self, button: str) -> None:
        await self.dialog.get_by_role("button", name=button).click()

    async def settings(self, item: str) -> None:
        """Settings in the sidebar, then one of its pages."""
        await self.page.locator("ha-sidebar").get_by_text("Settings", exact=True).click()
        await self.page.get_by_text(item, exact=True).click()

    async def open_integration(self) -> None:
        await self.settings("Devices & services")
        await self.page.locator("ha-integration-card", has_text="EV Load Balancer").click()
        await playwright.expect(self.page.get_by_text(SITE).first).to_be_visible()

    async def call_ws(self, message: dict[str, Any]) -> Any:
        """A websocket command on the frontend's own connection, as the logged-in owner."""
        return await self.page.evaluate(
            "m => document.querySelector('home-assistant').hass.callWS(m)", message
        )

    async def shot(self, name: str) -> None:
        await self.page.wait_for_timeout(500)  # let ripples and fades finish
        await self.page.screenshot(path=self.shots / f"{name}.png")


@pytest.fixture
async def meter_gateway(socket_enabled: None) -> AsyncGenerator[MeterGateway]:
    meter = SimMeter(unit_id=1, register_map=REGISTER_MAPS[MeterModel.EASTRON_SDM630])
    gateway = await start_gateway([meter])
    await meter.write_reading(reading(BUILDING_A))
    yield gateway
    await gateway.server.shutdown()


@pytest.fixture
def work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="evlb-browser-") as name:
        yield Path(name)


@pytest.fixture
async def home_assistant(work_dir: Path, socket_enabled: None) -> AsyncGenerator[HomeAssistant]:
    config_dir = work_dir / "config"
    config_dir.mkdir()
    ha = HomeAssistant(config_dir)
    try:
        await ha.start()
        yield ha
    finally:
        ha.stop()
        # Shown by pytest only when the test failed.
        print(f"Home Assistant's log, last lines:\n{ha.tail()}")  # noqa: T201


@pytest.fixture
def shots_dir(work_dir: Path) -> Path:
    shots = Path(os.environ.get("EVLB_SCREENSHOTS") or work_dir / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@pytest.fixture
async def ui(shots_dir: Path) -> AsyncGenerator[Ui]:
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800},
                locale="en-US",
                timezone_id="Europe/Stockholm",
            )
            await _offline(context)
            context.set_default_timeout(30_000)
            page = await context.new_page()
            yield Ui(page, shots_dir)
        finally:
            await browser.close()


async def _offline(context: BrowserContext) -> None:
    """Only Home Assistant is reachable: map tiles and the like fail at once."""
    await context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    await context.route(
        re.compile(r"/api/brands/integration/(?!ev_load_balancer/)"),
        lambda route: route.fulfill(body=BLANK_PNG, content_type="image/png"),
    )


async def _within(seconds: float, condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        await asyncio.sleep(0.25)


async def test_onboard_add_site_adopt_charger_and_set_priority(
    home_assistant: HomeAssistant, meter_gateway: MeterGateway, ui: Ui
) -> None:
    ha, page = home_assistant, ui.page
    expect = playwright.expect

    # Onboarding: the owner is created in the wizard, the other steps keep their defaults.
    await page.goto(ha.url)
    await page.get_by_role("button", name="Create my smart home").click()
    await page.locator('input[name="name"]').fill("Tester")
    await page.locator('input[name="username"]').fill("tester")
    await page.locator('input[name="password"]').fill("browser-test")
    await page.locator('input[name="password_confirm"]').fill("browser-test")
    await page.get_by_role("button", name="Create account").click()
    for step_text in ("Home location", "We would like to know the country", "Help us help you"):
        await expect(page.get_by_text(step_text).first).to_be_visible()
        await page.get_by_role("button", name="Next").click()
    await page.get_by_role("button", name="Finish").click()
    await expect(page.locator("ha-sidebar").get_by_text("Tester")).to_be_visible()
    ha.token = await ui.call_ws(
        {"type": "auth/long_lived_access_token", "client_name": "browser test", "lifespan": 1}
    )
    assert all(step["done"] for step in await ha.get("/api/onboarding"))
    assert (await ha.get("/api/"))["message"] == "API running."

    # The site: Settings > Devices & services > Add integration, then its three steps.
    ocpp_port = free_port()
    await ui.settings("Devices & services")
    await page.get_by_role("button", name="Add integration").click()
    await expect(page.get_by_text("Select brand")).to_be_visible()
    await page.keyboard.type("EV Load Balancer")  # into the search field, focused
    await page.get_by_text("EV Load Balancer", exact=True).click()
    await ui.step("Add a site")
    await ui.choose("Grid", "TN or TT")
    await ui.choose("Phases", "3 phases")
    await ui.field("Main fuse").fill("32")
    await ui.field("Safety margin").fill("2")
    await ui.field("Name").fill(SITE)
    await ui.dialog.get_by_text("A site is one building").scroll_into_view_if_needed()
    await ui.shot("add_site")
    await ui.press("Submit")
    await ui.step("OCPP server")
    await ui.field("OCPP port").fill(str(ocpp_port))
    await ui.choose("Unknown chargers", "Hold them until I add them")
    await ui.press("Submit")
    await ui.step("Main meter")
    await ui.dialog.get_by_text("A Modbus energy meter").click()
    await ui.step("Modbus meter")
    await ui.choose("Model", "Eastron SDM630")
    await ui.choose("Connection", "Modbus TCP")
    await ui.field("Host").fill("127.0.0.1")
    await ui.field("Port").fill(str(meter_gateway.port))
    # Off: a meter that does not see the chargers needs no model of the car behind it.
    includes_chargers = ui.dialog.locator(
        'ha-switch[aria-label="The meter also measures the chargers"],'
        'ha-switch[label="The meter also measures the chargers"]'
    )
    await includes_chargers.click()
    assert await includes_chargers.evaluate("e => e.checked") is False
    await ui.press("Submit")  # the flow reads the meter before it saves
    await ui.step("Name and assign")
    await ui.press("Skip and finish")
    entries = await ha.get("/api/config/config_entries/entry?domain=ev_load_balancer")
    assert [(e["title"], e["state"]) for e in entries] == [(SITE, "loaded")]
    await ha.wait_for_states(
        {
            "sensor.browser_site_meter_current_l1": "18.0",
            "sensor.browser_site_meter_current_l2": "20.0",
            "number.browser_site_limit": "32.0",
            "binary_sensor.browser_site_failsafe": "off",
        }
    )

    # A charger nobody added connects: it is held pending and shows up as a repair.
    charge_point = ChargePoint(ocpp_port)
    simulation = asyncio.create_task(charge_point.run())
    try:
        issue_id = f"pending_charger_{CP_ID}"

        async def pending_issue() -> bool:
            issues = (await ui.call_ws({"type": "repairs/list_issues"}))["issues"]
            return any(issue["issue_id"] == issue_id for issue in issues)

        async def adopted() -> bool:
            return not await pending_issue()

        await _within(20, pending_issue, "pending charger repair")
        assert charge_point.pending_boots >= 1
        assert not charge_point.accepted.is_set()
        # Repairs are listed at the top of Settings.
        await page.locator("ha-sidebar").get_by_text("Settings", exact=True).click()
        await expect(page.get_by_text(f"Charger {CP_ID} wants to connect")).to_be_visible()

        # Adopt it from the repair: a name and its maximum current.
        await page.get_by_text(f"Charger {CP_ID} wants to connect").click()
        await ui.step(f"Add charger {CP_ID}")
        await expect(ui.dialog.get_by_text(f"the id {CP_ID} connected")).to_be_visible()
        await ui.field("Name").fill(CHARGER)
        await ui.field("Maximum current").fill("16")
        await ui.shot("repair")
        await ui.press("Submit")
        await ui.step("Success")
        await ui.press("Finish")

        # Adopted: the repair is gone, the charger is accepted and balanced under the fuse.
        await _within(20, adopted, "repair removal")
        await asyncio.wait_for(charge_point.accepted.wait(), 30)
        # 32 A less the 2 A margin less 20 A of building on L2 leaves 10 A; the engine errs low.
        await ha.wait_for_states(
            {
                "sensor.garage_status": "charging",
                "binary_sensor.garage_connectivity": "on",
                "sensor.garage_limit": lambda limit: 9.0 <= float(limit or 0) <= 10.0,
                "sensor.garage_reason": "node_limit",
                "number.garage_priority": "0",
            }
        )
        devices = await ui.call_ws({"type": "config/device_registry/list"})
        site = next(d for d in devices if d["name"] == SITE and d["model"] == "Site")
        charger = next(d for d in devices if d["name"] == CHARGER)
        assert charger["model"] == "Charger"
        assert charger["via_device_id"] == site["id"]

        # The site's page lists the charger; its device page shows limit, reason, priority.
        await ui.open_integration()
        await expect(page.locator("ha-config-sub-entry-row", has_text=CHARGER)).to_be_visible()
        await ui.shot("integration")
        await page.locator("ha-config-entry-device-row", has_text=CHARGER).click()
        sensor_row = page.locator("hui-sensor-entity-row")
        await expect(sensor_row.filter(has_text="Reason")).to_contain_text("Limited by a fuse")
        await expect(sensor_row.filter(has_text=re.compile(r"\bLimit\b"))).to_contain_text(
            re.compile(r"(9\.\d0|10\.00)\W*A")
        )

        # Priority, from the device page's number entity.
        priority = page.locator("hui-number-entity-row", has_text="Priority").locator("input")
        await priority.fill("5")
        await priority.press("Enter")
        await ha.wait_for_states({"number.garage_priority": "5"})
        await page.reload()
        await expect(
            page.locator("hui-number-entity-row", has_text="Priority").locator("input")
        ).to_have_value("5")
        # Sensors (limit, reason) and Configuration (priority) fill the window.
        await page.get_by_text("Sensors", exact=True).evaluate(
            "e => e.scrollIntoView({block: 'start'})"
        )
        await page.mouse.wheel(0, -80)  # from under the toolbar
        await ui.shot("charger")
    finally:
        simulation.cancel()
        await asyncio.gather(simulation, return_exceptions=True)

    errors = ha.integration_errors()
    assert errors == [], "\n\n".join(errors)
