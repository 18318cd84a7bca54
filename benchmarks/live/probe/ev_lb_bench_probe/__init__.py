"""A probe loaded into the benchmark's Home Assistant: event-loop lag and balancing cycle times.

It lives only in the live benchmark's temporary configuration, never in a real installation.
It wraps the site coordinator's methods from the outside (the integration is not changed) and
serves what it saw at /api/ev_lb_bench_probe (GET; `?reset=1` starts a new window).
"""

# It observes the coordinator from outside, so it reaches into its private parts on purpose.
# ruff: noqa: SLF001

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant
from homeassistant.helpers.typing import ConfigType

from custom_components.ev_load_balancer.coordinator import SiteCoordinator

DOMAIN = "ev_lb_bench_probe"
LAG_PERIOD_S = 0.05


class _Samples:
    """What the probe saw since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.since = time.monotonic()
        self.lag_ms: list[float] = []
        # One dict per cycle; the send time is filled in when the last limit is answered.
        self.cycles: list[dict[str, Any]] = []

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_s": time.monotonic() - self.since,
            "lag_ms": self.lag_ms,
            "cycles": self.cycles,
        }


async def _measure_lag(samples: _Samples) -> None:
    """Sleep a fixed period again and again; anything beyond it is time the loop was busy."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_PERIOD_S)
        samples.lag_ms.append((loop.time() - started - LAG_PERIOD_S) * 1000)


def _instrument(hass: HomeAssistant, samples: _Samples) -> None:
    """Time each cycle: snapshot and engine, entity updates, and until every limit is answered."""
    update_data = SiteCoordinator._async_update_data
    update_listeners = SiteCoordinator.async_update_listeners

    @functools.wraps(update_data)
    async def timed_update(self: SiteCoordinator) -> Any:
        started = time.perf_counter()
        result = await update_data(self)
        computed = time.perf_counter()
        # The coordinator hands limits to one sender task per charger; the cycle's sending is
        # over when the last of them has its answer.
        senders = [
            task
            for sender in self._senders.values()
            if (task := sender._task) is not None and not task.done()
        ]
        cycle: dict[str, Any] = {
            "at": time.monotonic(),
            "compute_ms": (computed - started) * 1000,
            "trigger_ms": result.cycle_s * 1000,
            "senders": len(senders),
            "listeners_ms": None,
            "send_ms": 0.0 if not senders else None,
        }
        samples.cycles.append(cycle)
        self._bench_cycle = cycle  # type: ignore[attr-defined]
        if senders:

            async def sent() -> None:
                await asyncio.gather(*senders, return_exceptions=True)
                cycle["send_ms"] = (time.perf_counter() - started) * 1000

            hass.async_create_background_task(sent(), f"{DOMAIN} send")
        return result

    @functools.wraps(update_listeners)
    def timed_listeners(self: SiteCoordinator) -> None:
        started = time.perf_counter()
        update_listeners(self)
        if (cycle := getattr(self, "_bench_cycle", None)) is not None:
            cycle["listeners_ms"] = (time.perf_counter() - started) * 1000
            self._bench_cycle = None  # type: ignore[attr-defined]

    SiteCoordinator._async_update_data = timed_update  # type: ignore[method-assign]
    SiteCoordinator.async_update_listeners = timed_listeners  # type: ignore[method-assign]


class _ProbeView(HomeAssistantView):
    url = "/api/ev_lb_bench_probe"
    name = "api:ev_lb_bench_probe"

    def __init__(self, samples: _Samples) -> None:
        self._samples = samples

    async def get(self, request: web.Request) -> web.Response:
        data = self._samples.as_dict()
        if request.query.get("reset"):
            self._samples.reset()
        return self.json(data)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    samples = _Samples()
    _instrument(hass, samples)
    hass.http.register_view(_ProbeView(samples))
    hass.async_create_background_task(_measure_lag(samples), f"{DOMAIN} lag")
    return True
