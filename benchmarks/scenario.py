"""Scenario files: YAML in, validated and typed scenario out.

Every problem is reported as a `ScenarioError` naming the file, the key (as a path such as
`chargers[3].wiring`), the value found and what was expected. Unknown keys are errors too, so
that a typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
import itertools
from pathlib import Path
import re
from typing import Any

import yaml

from custom_components.ev_load_balancer.balancing.model import (
    SITE_NODE_ID,
    ControllerSettings,
    GridType,
    Line,
    Strategy,
)

DAY_S = 86_400
BASELINES = ("static", "worst_phase_fcfs")
STRATEGIES = tuple(s.value for s in Strategy)
PROFILES = ("residential", "office", "depot")

type Triple = tuple[float, float, float]
type Span = tuple[float, float]


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with the key, the value and what was expected."""


@dataclass(frozen=True, kw_only=True)
class Window:
    """A stretch of time: starts at a time of day, lasts `minutes` (None: to the end)."""

    at_tod_s: int
    minutes: float | None


@dataclass(frozen=True, kw_only=True)
class SiteSpec:
    phases: int
    voltage_v: float
    grid: GridType
    fuse_a: Triple
    margin_a: float
    reserve_a: float
    failsafe_a: float


@dataclass(frozen=True, kw_only=True)
class MeterSpec:
    includes_chargers: bool
    interval_s: float
    delay_s: float
    timeout_s: float
    dropouts: tuple[Window, ...]


@dataclass(frozen=True, kw_only=True)
class SpikeSpec:
    per_hour: float
    amps: Span
    minutes: Span
    three_phase_share: float
    """Share of spikes that load every line (sauna, hob); the rest load one line (or pair)."""


@dataclass(frozen=True, kw_only=True)
class LoadSpec:
    profile: str | None
    csv: Path | None
    peak_a: Triple
    spikes: tuple[SpikeSpec, ...]
    """One kind of appliance each (a mapping in the file, or a list of them)."""


@dataclass(frozen=True, kw_only=True)
class GroupSpec:
    id: str
    parent: str
    limit_a: Triple
    load: LoadSpec | None
    metered: bool


@dataclass(frozen=True, kw_only=True)
class ChargerSpec:
    id: str
    group: str
    phases: int
    wiring: tuple[Line, ...]
    min_a: float
    max_a: float
    priority: int
    reaction_s: float
    report_interval_s: float
    enabled: bool


@dataclass(frozen=True, kw_only=True)
class SessionSpec:
    """One explicit session on a named charger."""

    charger: str
    arrive_tod_s: int
    depart_tod_s: int
    energy_kwh: float
    ev_phases: int
    ev_max_a: float


@dataclass(frozen=True, kw_only=True)
class SessionGenSpec:
    """`count` sessions drawn at random; each takes a free charger in arrival order."""

    count: int
    arrive: tuple[int, int]
    depart: tuple[int, int] | None
    stay_h: Span | None
    """Either a departure time or a length of stay (one of them is set)."""
    energy_kwh: Span
    ev_phases: tuple[tuple[int, float], ...]
    """(phases, weight) pairs."""
    ev_max_a: Span
    charger_prefix: str
    """Only chargers whose id starts with this take these sessions ("" for any)."""


@dataclass(frozen=True, kw_only=True)
class LoadStep:
    """Non-EV load on a node rises by `amps` within one step at `window.at_tod_s`."""

    node: str
    amps: Triple
    window: Window


@dataclass(frozen=True, kw_only=True)
class ChargerFault:
    """`charger_offline`: no contact; `ignores_limits`: acknowledges but offers its maximum."""

    kind: str
    charger: str
    window: Window | None
    """None: the whole run."""


@dataclass(frozen=True, kw_only=True)
class ControllerSpec:
    strategy: str
    interval_s: float
    """The controller runs at most this often (on a new meter reading)."""
    max_interval_s: float
    """... and at least this often, so that a silent meter is noticed."""
    settings: ControllerSettings


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    source: Path | None
    duration_h: float
    start_tod_s: int
    step_s: float
    seed: int
    site: SiteSpec
    meter: MeterSpec
    groups: tuple[GroupSpec, ...]
    chargers: tuple[ChargerSpec, ...]
    building_load: LoadSpec
    sessions: tuple[SessionSpec, ...]
    session_gens: tuple[SessionGenSpec, ...]
    controller: ControllerSpec
    load_steps: tuple[LoadStep, ...]
    charger_faults: tuple[ChargerFault, ...]

    @property
    def steps(self) -> int:
        return round(self.duration_h * 3600 / self.step_s)

    def sim_time(self, tod_s: int) -> float:
        """Seconds from the start to the first time the clock shows `tod_s`."""
        return float((tod_s - self.start_tod_s) % DAY_S)


class _Map:
    """A YAML mapping being read: remembers the keys used, so leftovers are reported."""

    def __init__(self, data: object, where: str, fail: _Fail) -> None:
        if not isinstance(data, Mapping):
            fail(where, data, "a mapping of keys to values")
        self.data: Mapping[Any, Any] = data  # type: ignore[assignment]
        self.where = where
        self.fail = fail
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: object = None) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def need(self, key: str) -> Any:
        self.used.add(key)
        if key not in self.data:
            self.fail(self.where or "(top level)", None, f"the key '{key}'", missing=True)
        return self.data[key]

    def done(self) -> None:
        unknown = [k for k in self.data if str(k) not in self.used]
        if unknown:
            known = ", ".join(sorted(self.used))
            self.fail(
                self.at(str(unknown[0])),
                self.data[unknown[0]],
                f"one of the keys {known}",
                unknown=True,
            )


class _Fail:
    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(
        self,
        where: str,
        value: object,
        expected: str,
        *,
        missing: bool = False,
        unknown: bool = False,
    ) -> Any:
        if missing:
            raise ScenarioError(f"{self.source}: {where}: missing {expected}")
        if unknown:
            raise ScenarioError(f"{self.source}: {where}: unknown key; expected {expected}")
        raise ScenarioError(f"{self.source}: {where}: got {value!r}, expected {expected}")


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the scenario file: {err.strerror}") from err
    return parse_scenario(text, source=path)


def parse_scenario(text: str, *, source: Path | None = None) -> Scenario:
    """Validate the YAML text of a scenario; `source` names it in errors and anchors CSV paths."""
    fail = _Fail(str(source) if source else "<scenario>")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(f"{fail.source}: not valid YAML: {err}") from err
    return _Reader(fail, source).scenario(data)


class _Reader:
    def __init__(self, fail: _Fail, source: Path | None) -> None:
        self.fail = fail
        self.source = source
        self.base = source.parent if source else Path()

    # Scalars -------------------------------------------------------------------------------

    def num(
        self,
        value: object,
        where: str,
        *,
        low: float | None = 0.0,
        high: float | None = None,
        above: bool = False,
    ) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            x = float(value)  # type: ignore[arg-type]
            ok = (low is None or (x > low if above else x >= low)) and (high is None or x <= high)
            if ok:
                return x
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if above else '>='} {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        return self.fail(where, value, "a number" + (" " + " and ".join(bounds) if bounds else ""))

    def integer(self, value: object, where: str, *, low: int = 0) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= low:
            return value
        return self.fail(where, value, f"a whole number >= {low}")

    def text(self, value: object, where: str) -> str:
        if isinstance(value, str) and value:
            return value
        return self.fail(where, value, "a non-empty string")

    def phases(self, value: object, where: str) -> int:
        if value in (1, 3) and not isinstance(value, bool):
            return int(value)  # type: ignore[call-overload]
        return self.fail(where, value, "1 or 3")

    def boolean(self, value: object, where: str) -> bool:
        if isinstance(value, bool):
            return value
        return self.fail(where, value, "true or false")

    def choice(self, value: object, where: str, options: Iterable[str]) -> str:
        options = tuple(options)
        if isinstance(value, str) and value in options:
            return value
        return self.fail(where, value, "one of " + ", ".join(options))

    def tod(self, value: object, where: str) -> int:
        if isinstance(value, str) and (m := re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())):
            hours, minutes = int(m[1]), int(m[2])
            if hours < 24 and minutes < 60:
                return hours * 3600 + minutes * 60
        hint = (
            " (quote it: YAML reads 17:10 unquoted as a number)" if isinstance(value, int) else ""
        )
        return self.fail(where, value, f'a time of day "HH:MM"{hint}')

    def span(self, value: object, where: str, *, low: float = 0.0) -> Span:
        """A number, or [lo, hi] with lo <= hi."""
        if isinstance(value, list):
            if len(value) == 2:
                lo = self.num(value[0], f"{where}[0]", low=low)
                hi = self.num(value[1], f"{where}[1]", low=low)
                if lo <= hi:
                    return lo, hi
            return self.fail(where, value, f"a number or [low, high] with {low:g} <= low <= high")
        x = self.num(value, where, low=low)
        return x, x

    def tod_span(self, value: object, where: str) -> tuple[int, int]:
        """A time, or [earliest, latest] (which may cross midnight)."""
        if isinstance(value, list):
            if len(value) != 2:
                return self.fail(where, value, 'a time "HH:MM" or ["HH:MM", "HH:MM"]')
            return self.tod(value[0], f"{where}[0]"), self.tod(value[1], f"{where}[1]")
        t = self.tod(value, where)
        return t, t

    def triple(self, value: object, where: str, phases: int) -> Triple:
        """One number for every line, or one per line."""
        if isinstance(value, list):
            if len(value) != phases:
                return self.fail(
                    where, value, f"a number or a list of {phases} numbers (one per phase)"
                )
            nums = [self.num(v, f"{where}[{i}]") for i, v in enumerate(value)]
            nums += [0.0] * (3 - phases)
            return nums[0], nums[1], nums[2]
        x = self.num(value, where)
        return (x, x, x) if phases == 3 else (x, 0.0, 0.0)

    def window(self, value: object, where: str, *, open_end: bool = False) -> Window:
        m = _Map(value, where, self.fail)
        at = self.tod(m.need("at"), m.at("at"))
        raw = m.get("minutes") if open_end else m.need("minutes")
        minutes = None if raw is None else self.num(raw, m.at("minutes"), above=True)
        m.done()
        return Window(at_tod_s=at, minutes=minutes)

    def items(self, value: object, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            return self.fail(where, value, "a list")
        return value

    # Sections ------------------------------------------------------------------------------

    def scenario(self, data: object) -> Scenario:
        top = _Map(data, "", self.fail)
        name = self.text(top.need("name"), "name")
        duration_h = self.num(top.need("duration_h"), "duration_h", above=True, high=24 * 14)
        start = self.tod(top.get("start", "00:00"), "start")
        step_s = self.num(top.get("step_s", 1), "step_s", above=True, high=60)
        seed = self.integer(top.get("seed", 0), "seed")
        site = self.site(top.need("site"))
        meter = self.meter(top.need("meter"))
        groups = self.groups(top.get("groups"), site)
        node_ids = {SITE_NODE_ID} | {g.id for g in groups}
        chargers = self.chargers(top.get("chargers"), site, node_ids)
        charger_ids = {c.id for c in chargers}
        building = self.load(
            top.get("building_load", {"profile": "residential", "peak_a": 0}),
            "building_load",
            site.phases,
        )
        sessions, gens = self.sessions(top.get("sessions"), charger_ids)
        controller = self.controller(top.get("controller", {}), meter)
        load_steps, charger_faults = self.faults(top.get("faults"), site, node_ids, charger_ids)
        top.done()
        return Scenario(
            name=name,
            source=self.source,
            duration_h=duration_h,
            start_tod_s=start,
            step_s=step_s,
            seed=seed,
            site=site,
            meter=meter,
            groups=groups,
            chargers=chargers,
            building_load=building,
            sessions=sessions,
            session_gens=gens,
            controller=controller,
            load_steps=load_steps,
            charger_faults=charger_faults,
        )

    def site(self, value: object) -> SiteSpec:
        m = _Map(value, "site", self.fail)
        phases = self.phases(m.get("phases", 3), m.at("phases"))
        grid = GridType(self.choice(m.get("grid", "TN"), m.at("grid"), [g.value for g in GridType]))
        if grid is GridType.IT and phases != 3:
            self.fail(m.at("grid"), "IT", "TN for a 1-phase site (an IT site here has 3 lines)")
        spec = SiteSpec(
            phases=phases,
            voltage_v=self.num(m.get("voltage_v", 230), m.at("voltage_v"), above=True),
            grid=grid,
            fuse_a=self.triple(m.need("fuse_a"), m.at("fuse_a"), phases),
            margin_a=self.num(m.get("margin_a", 2), m.at("margin_a")),
            reserve_a=self.num(m.get("reserve_a", 0), m.at("reserve_a")),
            failsafe_a=self.num(m.get("failsafe_a", 6), m.at("failsafe_a")),
        )
        m.done()
        return spec

    def meter(self, value: object) -> MeterSpec:
        m = _Map(value, "meter", self.fail)
        spec = MeterSpec(
            includes_chargers=self.boolean(
                m.get("includes_chargers", True), m.at("includes_chargers")
            ),
            interval_s=self.num(m.get("interval_s", 1), m.at("interval_s"), above=True),
            delay_s=self.num(m.get("delay_s", 0), m.at("delay_s")),
            timeout_s=self.num(m.get("timeout_s", 10), m.at("timeout_s"), above=True),
            dropouts=tuple(
                self.window(d, f"meter.dropouts[{i}]")
                for i, d in enumerate(self.items(m.get("dropouts"), m.at("dropouts")))
            ),
        )
        m.done()
        return spec

    def groups(self, value: object, site: SiteSpec) -> tuple[GroupSpec, ...]:
        groups: list[GroupSpec] = []
        seen = {SITE_NODE_ID}
        for i, item in enumerate(self.items(value, "groups")):
            m = _Map(item, f"groups[{i}]", self.fail)
            gid = self.text(m.need("id"), m.at("id"))
            if gid in seen:
                self.fail(m.at("id"), gid, "an id not used by the site or another group")
            parent = self.text(m.get("parent", SITE_NODE_ID), m.at("parent"))
            if parent not in seen:
                self.fail(m.at("parent"), parent, "'site' or a group listed above this one")
            seen.add(gid)
            load = m.get("load")
            groups.append(
                GroupSpec(
                    id=gid,
                    parent=parent,
                    limit_a=self.triple(m.need("limit_a"), m.at("limit_a"), site.phases),
                    load=None if load is None else self.load(load, m.at("load"), site.phases),
                    metered=self.boolean(m.get("metered", False), m.at("metered")),
                )
            )
            m.done()
        return tuple(groups)

    def wiring(self, value: object, where: str, site: SiteSpec, phases: int) -> tuple[Line, ...]:
        want = 2 if site.grid is GridType.IT and phases == 1 else phases
        if site.phases == 1:
            expected = "L1 (the site has one phase)"
        elif want == 3:
            expected = "a permutation of L1, L2, L3 such as L1L2L3 or L2L3L1"
        elif want == 2:
            expected = "the pair of lines of a 1-phase charger on IT, such as L1L2"
        else:
            expected = "one line: L1, L2 or L3"
        if isinstance(value, str) and re.fullmatch(r"(L[123])+", value):
            lines = tuple(Line(int(d) - 1) for d in value[1::2])
            if (
                len(lines) == want
                and len(set(lines)) == want
                and (site.phases == 3 or lines == (Line.L1,))
            ):
                return lines
        return self.fail(where, value, expected)

    def rotation(self, site: SiteSpec, phases: int) -> list[tuple[Line, ...]]:
        l1, l2, l3 = Line.L1, Line.L2, Line.L3
        if site.phases == 1:
            return [(l1,)]
        if phases == 3:
            return [(l1, l2, l3), (l2, l3, l1), (l3, l1, l2)]
        if site.grid is GridType.IT:
            return [(l1, l2), (l2, l3), (l3, l1)]
        return [(l1,), (l2,), (l3,)]

    def charger(
        self, m: _Map, cid: str, site: SiteSpec, nodes: set[str], wiring: tuple[Line, ...] | None
    ) -> ChargerSpec:
        phases = self.phases(m.get("phases", site.phases), m.at("phases"))
        if site.phases == 1 and phases == 3:
            self.fail(m.at("phases"), 3, "1 (the site has one phase)")
        group = self.text(m.get("group", SITE_NODE_ID), m.at("group"))
        if group not in nodes:
            self.fail(
                m.at("group"), group, "'site' or the id of a group: " + ", ".join(sorted(nodes))
            )
        raw_wiring = m.get("wiring")
        if wiring is None:
            wiring = (
                self.rotation(site, phases)[0]
                if raw_wiring is None
                else self.wiring(raw_wiring, m.at("wiring"), site, phases)
            )
        min_a = self.num(m.get("min_a", 6), m.at("min_a"))
        max_a = self.num(m.get("max_a", 16), m.at("max_a"), low=min_a)
        return ChargerSpec(
            id=cid,
            group=group,
            phases=phases,
            wiring=wiring,
            min_a=min_a,
            max_a=max_a,
            priority=self.integer(m.get("priority", 0), m.at("priority"), low=-1000),
            reaction_s=self.num(m.get("reaction_s", 5), m.at("reaction_s")),
            report_interval_s=self.num(
                m.get("report_interval_s", 10), m.at("report_interval_s"), above=True
            ),
            enabled=self.boolean(m.get("enabled", True), m.at("enabled")),
        )

    def chargers(self, value: object, site: SiteSpec, nodes: set[str]) -> tuple[ChargerSpec, ...]:
        out: list[ChargerSpec] = []
        for i, item in enumerate(self.items(value, "chargers")):
            where = f"chargers[{i}]"
            if isinstance(item, Mapping) and "generate" in item:
                outer = _Map(item, where, self.fail)
                m = _Map(outer.need("generate"), f"{where}.generate", self.fail)
                outer.done()
                count = self.integer(m.need("count"), m.at("count"), low=1)
                prefix = self.text(m.need("prefix"), m.at("prefix"))
                width = max(2, len(str(count)))
                raw_wiring = m.get("wiring", "rotate")
                phases = self.phases(m.get("phases", site.phases), m.at("phases"))
                if raw_wiring == "rotate":
                    wirings = itertools.cycle(self.rotation(site, phases))
                else:
                    wirings = itertools.repeat(
                        self.wiring(raw_wiring, m.at("wiring"), site, phases)
                    )
                out.extend(
                    self.charger(m, f"{prefix}{n:0{width}d}", site, nodes, next(wirings))
                    for n in range(1, count + 1)
                )
            else:
                m = _Map(item, where, self.fail)
                out.append(self.charger(m, self.text(m.need("id"), m.at("id")), site, nodes, None))
            m.done()
        ids = [c.id for c in out]
        for cid in ids:
            if ids.count(cid) > 1:
                self.fail("chargers", cid, "unique charger ids (this one appears twice)")
        return tuple(out)

    def load(self, value: object, where: str, phases: int) -> LoadSpec:
        m = _Map(value, where, self.fail)
        profile = m.get("profile")
        csv = m.get("csv")
        if (profile is None) == (csv is None):
            self.fail(where, dict(m.data), f"either profile ({', '.join(PROFILES)}) or csv: path")
        if profile is not None:
            self.choice(profile, m.at("profile"), PROFILES)
        csv_path = None
        if csv is not None:
            csv_path = self.base / self.text(csv, m.at("csv"))
            if not csv_path.is_file():
                self.fail(
                    m.at("csv"),
                    csv,
                    f"a CSV file with columns t_s,l1_a,l2_a,l3_a ({csv_path} does not exist)",
                )
        peak = m.get("peak_a", 0) if csv is not None else m.need("peak_a")
        spikes = m.get("spikes")
        if isinstance(spikes, list):
            kinds = tuple(self.spikes(k, f"{m.at('spikes')}[{i}]") for i, k in enumerate(spikes))
        else:
            kinds = () if spikes is None else (self.spikes(spikes, m.at("spikes")),)
        spec = LoadSpec(
            profile=profile,
            csv=csv_path,
            peak_a=self.triple(peak, m.at("peak_a"), phases),
            spikes=kinds,
        )
        m.done()
        return spec

    def spikes(self, value: object, where: str) -> SpikeSpec:
        m = _Map(value, where, self.fail)
        spec = SpikeSpec(
            per_hour=self.num(m.need("per_hour"), m.at("per_hour")),
            amps=self.span(m.need("amps"), m.at("amps")),
            minutes=self.span(m.need("minutes"), m.at("minutes")),
            three_phase_share=self.num(
                m.get("three_phase_share", 0.3), m.at("three_phase_share"), high=1
            ),
        )
        m.done()
        return spec

    def ev_phases(self, value: object, where: str) -> tuple[tuple[int, float], ...]:
        if isinstance(value, Mapping) and value:
            pairs = []
            for k, w in value.items():
                phases = self.phases(k, f"{where}.{k}")
                pairs.append((phases, self.num(w, f"{where}.{k}")))
            if sum(w for _, w in pairs) > 0:
                return tuple(sorted(pairs, reverse=True))
            return self.fail(where, value, "weights that add up to more than 0")
        if str(value) in ("1", "3"):
            return ((int(str(value)), 1.0),)
        return self.fail(
            where, value, "1, 3 or a mapping of phases to weights such as {3: 0.7, 1: 0.3}"
        )

    def sessions(
        self, value: object, chargers: set[str]
    ) -> tuple[tuple[SessionSpec, ...], tuple[SessionGenSpec, ...]]:
        explicit: list[SessionSpec] = []
        gens: list[SessionGenSpec] = []
        for i, item in enumerate(self.items(value, "sessions")):
            where = f"sessions[{i}]"
            if isinstance(item, Mapping) and "generate" in item:
                outer = _Map(item, where, self.fail)
                m = _Map(outer.need("generate"), f"{where}.generate", self.fail)
                outer.done()
                prefix = m.get("charger_prefix", "")
                if prefix != "":
                    prefix = self.text(prefix, m.at("charger_prefix"))
                if prefix and not any(c.startswith(prefix) for c in chargers):
                    self.fail(
                        m.at("charger_prefix"), prefix, "the start of at least one charger id"
                    )
                if m.has("depart") == m.has("stay_h"):
                    self.fail(m.where, dict(m.data), "either depart or stay_h")
                depart, stay = m.get("depart"), m.get("stay_h")
                gens.append(
                    SessionGenSpec(
                        count=self.integer(m.need("count"), m.at("count"), low=1),
                        arrive=self.tod_span(m.need("arrive"), m.at("arrive")),
                        depart=None if depart is None else self.tod_span(depart, m.at("depart")),
                        stay_h=None if stay is None else self.span(stay, m.at("stay_h"), low=0.01),
                        energy_kwh=self.span(m.need("energy_kwh"), m.at("energy_kwh")),
                        ev_phases=self.ev_phases(m.get("ev_phases", 3), m.at("ev_phases")),
                        ev_max_a=self.span(m.get("ev_max_a", 16), m.at("ev_max_a"), low=1),
                        charger_prefix=prefix,
                    )
                )
            else:
                m = _Map(item, where, self.fail)
                charger = self.text(m.need("charger"), m.at("charger"))
                if charger not in chargers:
                    self.fail(m.at("charger"), charger, "the id of a charger listed under chargers")
                explicit.append(
                    SessionSpec(
                        charger=charger,
                        arrive_tod_s=self.tod(m.need("arrive"), m.at("arrive")),
                        depart_tod_s=self.tod(m.need("depart"), m.at("depart")),
                        energy_kwh=self.num(m.need("energy_kwh"), m.at("energy_kwh")),
                        ev_phases=self.phases(m.get("ev_phases", 3), m.at("ev_phases")),
                        ev_max_a=self.num(m.get("ev_max_a", 16), m.at("ev_max_a"), above=True),
                    )
                )
            m.done()
        return tuple(explicit), tuple(gens)

    def controller(self, value: object, meter: MeterSpec) -> ControllerSpec:
        m = _Map(value, "controller", self.fail)
        strategy = self.choice(
            m.get("strategy", "equal_share"), m.at("strategy"), STRATEGIES + BASELINES
        )
        interval_s = self.num(m.get("interval_s", 1), m.at("interval_s"), above=True)
        max_interval_s = self.num(
            m.get("max_interval_s", 5), m.at("max_interval_s"), low=interval_s
        )
        tuning: dict[str, Any] = {"meter_timeout_s": meter.timeout_s}
        for f in fields(ControllerSettings):
            if m.has(f.name):
                if f.name == "meter_timeout_s":
                    self.fail(
                        m.at(f.name), m.get(f.name), "no value here: set meter.timeout_s instead"
                    )
                raw = m.get(f.name)
                tuning[f.name] = (
                    self.integer(raw, m.at(f.name))
                    if f.type == "int"
                    else self.num(raw, m.at(f.name))
                )
        m.done()
        return ControllerSpec(
            strategy=strategy,
            interval_s=interval_s,
            max_interval_s=max_interval_s,
            settings=ControllerSettings(**tuning),
        )

    def faults(
        self, value: object, site: SiteSpec, nodes: set[str], chargers: set[str]
    ) -> tuple[tuple[LoadStep, ...], tuple[ChargerFault, ...]]:
        steps: list[LoadStep] = []
        charger_faults: list[ChargerFault] = []
        kinds = ("load_step", "charger_offline", "ignores_limits")
        for i, item in enumerate(self.items(value, "faults")):
            m = _Map(item, f"faults[{i}]", self.fail)
            kind = self.choice(m.need("type"), m.at("type"), kinds)
            timing = {k: m.get(k) for k in ("at", "minutes") if m.has(k)}
            window = None
            if timing or kind != "ignores_limits":
                window = self.window(timing, m.where, open_end=kind != "charger_offline")
            if kind == "load_step" and window is not None:
                node = self.text(m.get("node", SITE_NODE_ID), m.at("node"))
                if node not in nodes:
                    self.fail(
                        m.at("node"), node, "'site' or a group id: " + ", ".join(sorted(nodes))
                    )
                amps = self.triple(m.need("amps"), m.at("amps"), site.phases)
                steps.append(LoadStep(node=node, amps=amps, window=window))
            else:
                charger = self.text(m.need("charger"), m.at("charger"))
                if charger not in chargers:
                    self.fail(m.at("charger"), charger, "the id of a charger listed under chargers")
                charger_faults.append(ChargerFault(kind=kind, charger=charger, window=window))
            m.done()
        return tuple(steps), tuple(charger_faults)
