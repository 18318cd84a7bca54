"""Set up a running Home Assistant over its HTTP API, as a person would in the browser.

Used by the demo site and the live benchmarks:

    await wait_until_up(base_url)
    token = await onboard(base_url, "demo", "demo-site")   # first start only
    token = await login(base_url, "demo", "demo-site")     # any later start
    entry_id = await create_site(base_url, token, SiteSpec(...), [ChargerSpec(...), ...])
    await create_dashboard(base_url, token, entry_id, chargers=...)  # a view of the site

Everything goes through the same endpoints the frontend uses (onboarding, the auth code
exchange, config flows and subentry flows), so the integration's own validation runs.
Access tokens live 30 minutes; `long_lived_token` makes one that lasts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import time
from typing import Any

import aiohttp

DOMAIN = "ev_load_balancer"
DEFAULT_BASE_URL = "http://127.0.0.1:8123"


class ProvisionError(Exception):
    """Home Assistant refused a step; the message says which and why."""


@dataclass(frozen=True)
class ChargerSpec:
    """A charger subentry, as the *Add charger* form takes it."""

    name: str
    charge_point_id: str
    phases: int = 3
    wiring: str = "L1L2L3"
    min_a: float = 6.0
    max_a: float = 16.0
    priority: int = 0
    connector_id: int = 1
    group: str = "site"
    password: str | None = None

    def form(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "group": self.group,
            "phases": str(self.phases),
            "wiring": self.wiring,
            "min_a": self.min_a,
            "max_a": self.max_a,
            "priority": self.priority,
        }
        if self.password:
            data["password"] = self.password
        return data


def modbus_meter(
    host: str,
    port: int,
    *,
    unit_id: int = 1,
    model: str = "eastron_sdm630",
    framing: str = "tcp",
    includes_chargers: bool = True,
) -> dict[str, Any]:
    """The site's main meter as a Modbus meter (the flow reads it once before saving)."""
    return {
        "meter_type": "modbus",
        "model": model,
        "framing": framing,
        "host": host,
        "port": port,
        "unit_id": unit_id,
        "includes_chargers": includes_chargers,
    }


def sensor_meter(
    current_entities: Sequence[str], *, includes_chargers: bool = True
) -> dict[str, Any]:
    """The site's main meter as Home Assistant current sensors, in the order L1, L2, L3."""
    return {
        "meter_type": "sensors",
        "current_entities": list(current_entities),
        "includes_chargers": includes_chargers,
    }


CHARGERS_METER: Mapping[str, Any] = {"meter_type": "chargers"}
"""No grid meter: the chargers' own meter values measure the site."""


@dataclass(frozen=True)
class SiteSpec:
    """A site, as the *Add integration* steps take it, and optionally its loop options."""

    name: str = "Demo site"
    grid: str = "TN"
    phases: int = 3
    voltage_v: float = 230
    fuse_a: float = 25
    margin_a: float = 2
    reserve_a: float = 0
    failsafe_a: float = 6
    ocpp_port: int = 9000
    unknown_chargers: str = "pending"
    meter: Mapping[str, Any] = field(default_factory=lambda: dict(CHARGERS_METER))
    # Options flow fields (settle_s, meter_timeout_s, rotation_minutes, max_changes_per_hour):
    # the ones left out keep what is in force.
    options: Mapping[str, float] = field(default_factory=dict)

    def site_form(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "grid": self.grid,
            "phases": str(self.phases),
            "voltage_v": self.voltage_v,
            "fuse_a": self.fuse_a,
            "margin_a": self.margin_a,
            "reserve_a": self.reserve_a,
            "failsafe_a": self.failsafe_a,
        }

    def ocpp_form(self) -> dict[str, Any]:
        return {"ocpp_port": self.ocpp_port, "unknown_chargers": self.unknown_chargers}


def client_id(base_url: str) -> str:
    """The OAuth client id the frontend uses: Home Assistant's own address."""
    return base_url.rstrip("/") + "/"


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _json(response: aiohttp.ClientResponse, what: str) -> Any:
    if response.status >= 400:
        raise ProvisionError(f"{what}: HTTP {response.status}: {await response.text()}")
    return await response.json()


async def wait_until_up(base_url: str = DEFAULT_BASE_URL, timeout_s: float = 300) -> None:
    """Wait until Home Assistant answers HTTP (onboarding status needs no log-in)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(
                    f"{base_url}/api/onboarding", timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    # 404 once onboarded on some versions: the server answers either way.
                    if response.status in (200, 401, 404):
                        return
            except aiohttp.ClientError, TimeoutError:
                pass
            if time.monotonic() > deadline:
                raise ProvisionError(f"Home Assistant did not answer on {base_url}")
            await asyncio.sleep(1)


async def is_onboarded(base_url: str = DEFAULT_BASE_URL) -> bool:
    """Whether the owner exists already (then `login`, not `onboard`)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/api/onboarding") as response,
    ):
        steps = await _json(response, "onboarding status")
    return any(step["step"] == "user" and step["done"] for step in steps)


async def _token(session: aiohttp.ClientSession, base_url: str, code: str) -> str:
    async with session.post(
        f"{base_url}/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id(base_url),
        },
    ) as response:
        tokens = await _json(response, "token exchange")
    return str(tokens["access_token"])


async def onboard(
    base_url: str,
    user: str,
    password: str,
    *,
    name: str | None = None,
    language: str = "en",
) -> str:
    """Create the owner and finish every onboarding step; return an access token.

    Home Assistant's location, units and time zone come from configuration.yaml, so the
    core config step only needs to be marked done.
    """
    cid = client_id(base_url)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base_url}/api/onboarding/users",
            json={
                "name": name or user,
                "username": user,
                "password": password,
                "client_id": cid,
                "language": language,
            },
        ) as response:
            code = (await _json(response, "onboarding: owner"))["auth_code"]
        token = await _token(session, base_url, code)
        for step, body in (
            ("core_config", None),
            ("analytics", None),
            ("integration", {"client_id": cid, "redirect_uri": f"{cid}?auth_callback=1"}),
        ):
            async with session.post(
                f"{base_url}/api/onboarding/{step}", json=body, headers=_headers(token)
            ) as response:
                # 403: done already (a run that stopped halfway).
                if response.status != 403:
                    await _json(response, f"onboarding: {step}")
    return token


async def login(base_url: str, user: str, password: str) -> str:
    """Log in with a user name and password, as the login page does; return an access token."""
    cid = client_id(base_url)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base_url}/auth/login_flow",
            json={
                "client_id": cid,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{cid}?auth_callback=1",
            },
        ) as response:
            flow = await _json(response, "login")
        async with session.post(
            f"{base_url}/auth/login_flow/{flow['flow_id']}",
            json={"username": user, "password": password, "client_id": cid},
        ) as response:
            result = await _json(response, "login")
        if result.get("type") != "create_entry":
            raise ProvisionError(f"login refused: {result.get('errors') or result}")
        return await _token(session, base_url, result["result"])


async def long_lived_token(
    base_url: str, token: str, client_name: str | None = None, days: int = 3650
) -> str:
    """A long-lived access token (the profile page's), made with a short-lived one.

    Home Assistant refuses a second token with the same client name; the default name is
    unique.
    """
    client_name = client_name or f"EV Load Balancer {datetime.now(UTC):%Y-%m-%d %H:%M:%S.%f}"
    ws_url = base_url.replace("http", "ws", 1) + "/api/websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": token})
        if (answer := await ws.receive_json())["type"] != "auth_ok":
            raise ProvisionError(f"websocket auth: {answer}")
        await ws.send_json(
            {
                "id": 1,
                "type": "auth/long_lived_access_token",
                "client_name": client_name,
                "lifespan": days,
            }
        )
        answer = await ws.receive_json()
    if not answer.get("success"):
        raise ProvisionError(f"long-lived token: {answer.get('error')}")
    return str(answer["result"])


async def site_entries(base_url: str, token: str) -> list[dict[str, Any]]:
    """The EV Load Balancer config entries: entry_id, title, state... as the UI lists them."""
    async with (
        aiohttp.ClientSession(headers=_headers(token)) as session,
        session.get(
            f"{base_url}/api/config/config_entries/entry", params={"domain": DOMAIN}
        ) as response,
    ):
        return list(await _json(response, "config entries"))


class _Flow:
    """Steps one flow through its forms and menus, failing on any error it shows."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, path: str) -> None:
        self.session = session
        self.url = f"{base_url}{path}"
        self.flow_id: str | None = None
        self.step: dict[str, Any] = {}

    async def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        async with self.session.post(self.url, json=body) as response:
            self.step = await _json(response, f"start {body['handler']}")
        self.flow_id = self.step.get("flow_id")
        return self.step

    async def answer(self, expect_step: str, data: Mapping[str, Any]) -> dict[str, Any]:
        if self.step.get("step_id") != expect_step:
            raise ProvisionError(f"expected step {expect_step!r}, got {self.step}")
        async with self.session.post(f"{self.url}/{self.flow_id}", json=dict(data)) as response:
            answer = await _json(response, f"step {expect_step}")
        if answer.get("type") == "form" and answer.get("step_id") == expect_step:
            raise ProvisionError(f"step {expect_step} refused: {answer.get('errors')}")
        if answer.get("type") == "abort":
            raise ProvisionError(f"step {expect_step} aborted: {answer.get('reason')}")
        self.step = answer
        return answer


async def create_site(
    base_url: str, token: str, site: SiteSpec, chargers: Sequence[ChargerSpec] = ()
) -> str:
    """Add a site through the config flow, then its options and chargers; return its entry id."""
    meter = dict(site.meter)
    meter_type = meter.pop("meter_type")
    async with aiohttp.ClientSession(headers=_headers(token)) as session:
        flow = _Flow(session, base_url, "/api/config/config_entries/flow")
        await flow.start({"handler": DOMAIN, "show_advanced_options": False})
        await flow.answer("user", site.site_form())
        await flow.answer("ocpp", site.ocpp_form())
        await flow.answer("meter", {"next_step_id": meter_type})
        if meter_type != "chargers":
            await flow.answer(meter_type, meter)
        if flow.step.get("type") != "create_entry":
            raise ProvisionError(f"the site was not created: {flow.step}")
        entry_id = str(flow.step["result"]["entry_id"])
    if site.options:
        await set_options(base_url, token, entry_id, site.options)
    for charger in chargers:
        await add_charger(base_url, token, entry_id, charger)
    return entry_id


async def set_options(
    base_url: str, token: str, entry_id: str, options: Mapping[str, float]
) -> None:
    """Change the site's loop options; the ones left out keep what is in force."""
    async with aiohttp.ClientSession(headers=_headers(token)) as session:
        flow = _Flow(session, base_url, "/api/config/config_entries/options/flow")
        step = await flow.start({"handler": entry_id})
        current = {
            field["name"]: field["description"]["suggested_value"]
            for field in step["data_schema"]
            if "suggested_value" in (field.get("description") or {})
        }
        await flow.answer("init", {**current, **options})


async def add_charger(base_url: str, token: str, entry_id: str, charger: ChargerSpec) -> None:
    """Add one charger to a site (*Add charger* on the site's entry)."""
    async with aiohttp.ClientSession(headers=_headers(token)) as session:
        flow = _Flow(session, base_url, "/api/config/config_entries/subentries/flow")
        await flow.start({"handler": [entry_id, "charger"]})
        answer = await flow.answer("user", charger.form())
        if answer.get("type") != "create_entry":
            raise ProvisionError(f"charger {charger.name} was not added: {answer}")


async def delete_entry(base_url: str, token: str, entry_id: str) -> None:
    """Remove a config entry (a site with everything in it)."""
    async with (
        aiohttp.ClientSession(headers=_headers(token)) as session,
        session.delete(f"{base_url}/api/config/config_entries/entry/{entry_id}") as response,
    ):
        await _json(response, "delete entry")


DASHBOARD_URL_PATH = "ev-load-balancer"


class _WebSocket:
    """Home Assistant's websocket API, for what has no HTTP endpoint (registries, dashboards)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next_id = 1

    async def call(self, message_type: str, **data: Any) -> Any:
        message_id, self._next_id = self._next_id, self._next_id + 1
        await self._ws.send_json({"id": message_id, "type": message_type, **data})
        while True:
            answer = await self._ws.receive_json()
            if answer.get("id") == message_id:
                break
        if not answer.get("success"):
            raise ProvisionError(f"{message_type}: {answer.get('error')}")
        return answer.get("result")


def dashboard_config(entities: Sequence[Mapping[str, Any]], devices: Mapping[str, str]) -> Any:
    """A view of the site: grid current, limits sent, and a card per charger and the site."""
    by_device: dict[str, list[Mapping[str, Any]]] = {}
    for entity in entities:
        if entity.get("disabled_by") is None:
            by_device.setdefault(entity.get("device_id") or "", []).append(entity)

    def ids(suffixes: Sequence[str], *, device: str | None = None) -> list[str]:
        chosen = entities if device is None else by_device.get(device, [])
        return [
            str(e["entity_id"])
            for suffix in suffixes
            for e in chosen
            if str(e["unique_id"]).endswith(suffix) and e.get("disabled_by") is None
        ]

    charger_keys = ("_limit", "_reason", "_status", "_power", "_priority", "_enabled")
    cards: list[dict[str, Any]] = [
        {
            "type": "history-graph",
            "title": "Grid meter, current per line",
            "hours_to_show": 1,
            "entities": ids(("_current_l1", "_current_l2", "_current_l3"))[:3],
        },
        {
            "type": "history-graph",
            "title": "Limits sent",
            "hours_to_show": 1,
            "entities": [i for i in ids(("_limit",)) if i.startswith("sensor.")],
        },
    ]
    for device_id, name in sorted(devices.items(), key=lambda item: item[1]):
        shown = ids(charger_keys, device=device_id)
        if any(i.startswith("sensor.") and i.endswith("_limit") for i in shown):
            cards.append({"type": "entities", "title": name, "entities": shown})
    site_keys = ("_headroom_l1", "_headroom_l2", "_headroom_l3", "_site_limit", "_strategy")
    site_keys += ("_site_failsafe",)
    for device_id, name in devices.items():
        shown = ids(site_keys, device=device_id)
        if shown:
            cards.insert(2, {"type": "entities", "title": name, "entities": shown})
    return {"views": [{"title": "Balancing", "path": "balancing", "cards": cards}]}


async def create_dashboard(
    base_url: str, token: str, entry_id: str, *, chargers: int = 0, timeout_s: float = 30
) -> str:
    """Add a dashboard in the sidebar that shows the site balancing; returns its URL path.

    Waits (up to `timeout_s`) until `chargers` chargers have their entities registered.
    """
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{base_url}/api/websocket") as raw,
    ):
        await raw.receive_json()
        await raw.send_json({"type": "auth", "access_token": token})
        if (await raw.receive_json()).get("type") != "auth_ok":
            raise ProvisionError("websocket: authentication refused")
        ws = _WebSocket(raw)
        deadline = time.monotonic() + timeout_s
        while True:
            entities = [
                e
                for e in await ws.call("config/entity_registry/list")
                if e.get("config_entry_id") == entry_id
            ]
            limits = [e for e in entities if str(e["entity_id"]).startswith("sensor.")]
            limits = [e for e in limits if str(e["unique_id"]).endswith("_limit")]
            if len(limits) >= chargers or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        devices = {
            d["id"]: d.get("name_by_user") or d.get("name") or d["id"]
            for d in await ws.call("config/device_registry/list")
            if entry_id in d.get("config_entries", [])
        }
        existing = await ws.call("lovelace/dashboards/list")
        if not any(d.get("url_path") == DASHBOARD_URL_PATH for d in existing):
            await ws.call(
                "lovelace/dashboards/create",
                url_path=DASHBOARD_URL_PATH,
                title="EV Load Balancer",
                icon="mdi:ev-station",
                show_in_sidebar=True,
                require_admin=False,
                mode="storage",
            )
        await ws.call(
            "lovelace/config/save",
            url_path=DASHBOARD_URL_PATH,
            config=dashboard_config(entities, devices),
        )
    return DASHBOARD_URL_PATH
