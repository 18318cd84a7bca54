"""Share the available current among chargers: the pure function `allocate`.

Every node line (a node's line L1, L2 or L3) is a capacity; a charger drawing I loads each of
its lines with I at its own node and at every node above it. Priority levels are served from
the highest down, each from what the levels above left. Within a level:

1. Admission: in turn order, each charger reserves its minimum on every node line it loads,
   if all of them still hold it; otherwise it is paused at 0 A. One pass: a paused charger
   never holds capacity, so what it would have taken stays for those after it.
2. Fill: what is left above the minimums goes out by the strategy. EQUAL_SHARE raises all
   admitted chargers together (max-min fair water-filling): a charger stops when it reaches
   its own cap or when a node line it loads is full. FIRST_COME gives each, in arrival order,
   as much as its cap and its node lines allow.

A charger's cap is the smaller of its maximum and the car's demand (never below its minimum),
so current a car does not take goes to the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import heapq
from itertools import groupby
import math

from .model import Line, PhaseCurrents, Reason, Strategy

EPSILON_A = 1e-9
"""Tolerance for floating-point comparisons of currents."""

_PENDING, _GROWING, _FROZEN = range(3)
_LINES = tuple(Line)


@dataclass(frozen=True, kw_only=True)
class Demand:
    """One charger taking part in an allocation."""

    id: str
    nodes: tuple[str, ...]
    """The node the charger hangs from and every node above it."""
    lines: tuple[Line, ...]
    """The site lines that each carry the charger's full current."""
    min_a: float
    max_a: float
    demand_a: float = math.inf
    """What the car is seen to want; the offer stops here (but never below `min_a`)."""
    priority: int = 0
    """Higher is served first."""
    arrival: float = 0.0
    """First-come order: earlier is served first."""
    turn: int = 0
    """Who keeps charging when not all can, within one priority level: lower first."""


@dataclass(frozen=True, kw_only=True)
class Allocation:
    """The share of one charger and what bounded it."""

    limit_a: float
    reason: Reason
    node_id: str | None = None
    line: Line | None = None


def allocate(
    available_a: Mapping[str, PhaseCurrents],
    demands: Sequence[Demand],
    strategy: Strategy,
) -> dict[str, Allocation]:
    """Share each node's available current per line among the demands.

    `available_a` holds every node the demands name: what chargers may draw there in total
    per line. Deterministic: ties are broken by charger id.
    """
    nodes = list(available_a)
    index = {node: position for position, node in enumerate(nodes)}
    slack = [current_a for node in nodes for current_a in available_a[node]]
    keys = {d.id: [index[node] * 3 + line for node in d.nodes for line in d.lines] for d in demands}
    results: dict[str, Allocation] = {}
    ranked = sorted(demands, key=lambda d: (-d.priority, d.turn, d.id))
    for _, level in groupby(ranked, key=lambda d: d.priority):
        admitted = _admit(list(level), keys, slack, nodes, results)
        if strategy is Strategy.FIRST_COME:
            _fill_in_order(admitted, keys, slack, nodes, results)
        else:
            _water_fill(admitted, keys, slack, nodes, results)
    return results


def _cap_a(demand: Demand) -> float:
    return min(demand.max_a, max(demand.min_a, demand.demand_a))


def _cap_reason(demand: Demand) -> Reason:
    return Reason.VEHICLE_DEMAND if demand.demand_a < demand.max_a else Reason.CHARGER_MAX


def _bound(limit_a: float, reason: Reason, key: int | None, nodes: Sequence[str]) -> Allocation:
    if key is None:
        return Allocation(limit_a=limit_a, reason=reason)
    return Allocation(limit_a=limit_a, reason=reason, node_id=nodes[key // 3], line=_LINES[key % 3])


def _tightest(item_keys: Sequence[int], slack: Sequence[float]) -> tuple[int | None, float]:
    """Find the node line with the least room among `item_keys`, and that room."""
    tight = min(item_keys, key=slack.__getitem__, default=None)
    return tight, (math.inf if tight is None else slack[tight])


def _admit(
    level: Sequence[Demand],
    keys: Mapping[str, list[int]],
    slack: list[float],
    nodes: Sequence[str],
    results: dict[str, Allocation],
) -> list[Demand]:
    """Reserve the minimum of each demand that still fits, in turn order; pause the rest."""
    at_start = slack.copy()
    admitted: list[Demand] = []
    for demand in level:
        item_keys = keys[demand.id]
        tight, room_a = _tightest(item_keys, slack)
        if demand.max_a >= demand.min_a and room_a >= demand.min_a - EPSILON_A:
            for key in item_keys:
                slack[key] -= demand.min_a
            admitted.append(demand)
            continue
        # Paused for rotation when it would fit if others of its level stepped aside.
        alone_a = _tightest(item_keys, at_start)[1]
        fits_alone = demand.max_a >= demand.min_a and alone_a >= demand.min_a - EPSILON_A
        reason = Reason.ROTATION if fits_alone else Reason.BELOW_MINIMUM
        results[demand.id] = _bound(0.0, reason, tight, nodes)
    return admitted


def _fill_in_order(
    admitted: Sequence[Demand],
    keys: Mapping[str, list[int]],
    slack: list[float],
    nodes: Sequence[str],
    results: dict[str, Allocation],
) -> None:
    """Give each admitted demand, in arrival order, all it can take above its minimum."""
    for demand in sorted(admitted, key=lambda d: (d.arrival, d.id)):
        item_keys = keys[demand.id]
        tight, room_a = _tightest(item_keys, slack)
        wanted_a = _cap_a(demand) - demand.min_a
        if wanted_a <= room_a:
            extra_a, allocation = wanted_a, _bound(_cap_a(demand), _cap_reason(demand), None, nodes)
        else:
            extra_a = max(room_a, 0.0)
            allocation = _bound(demand.min_a + extra_a, Reason.NODE_LIMIT, tight, nodes)
        for key in item_keys:
            slack[key] -= extra_a
        results[demand.id] = allocation


class _Filling:
    """Node lines filling up as a water level rises.

    Each node line's slack shrinks at its rate (the demands growing on it). A line's slack is
    brought up to date only when its rate changes, and the level at which it fills sits in a
    heap, so that finding the next full line does not scan every line.
    """

    def __init__(self, slack: list[float], level: float) -> None:
        self.slack = slack
        self.level = level
        self._rate: dict[int, int] = {}
        self._since: dict[int, float] = {}
        self._version: dict[int, int] = {}
        self._heap: list[tuple[float, int, int]] = []

    def change(self, key: int, delta: int) -> None:
        """Add `delta` demands growing on a node line."""
        self._catch_up(key)
        rate = self._rate[key] = self._rate.get(key, 0) + delta
        version = self._version[key] = self._version.get(key, 0) + 1
        if rate > 0:
            full_at = self.level + max(self.slack[key], 0.0) / rate
            heapq.heappush(self._heap, (full_at, version, key))

    def next_full(self) -> tuple[float, int] | None:
        """Return the level at which the next node line fills, and that line."""
        heap = self._heap
        while heap and heap[0][1] != self._version[heap[0][2]]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][2]) if heap else None

    def fill(self, key: int, level: float) -> None:
        """Raise the level to where `key` is full."""
        self.level = max(self.level, level)
        self._catch_up(key)
        self.slack[key] = 0.0

    def finish(self) -> None:
        """Bring every slack up to the final level."""
        for key in self._rate:
            self._catch_up(key)

    def _catch_up(self, key: int) -> None:
        if rate := self._rate.get(key, 0):
            self.slack[key] -= rate * (self.level - self._since[key])
        self._since[key] = self.level


def _water_fill(
    admitted: Sequence[Demand],
    keys: Mapping[str, list[int]],
    slack: list[float],
    nodes: Sequence[str],
    results: dict[str, Allocation],
) -> None:
    """Raise all admitted demands together from their minimums (max-min fair).

    A water level rises; each demand holds min(cap, max(minimum, level)). Events: a demand
    starts growing at its minimum, stops at its cap, or a node line it loads fills; then every
    demand growing on that line stops there (one that starts on it later stops at once).
    """
    count = len(admitted)
    if not count:
        return
    low = [d.min_a for d in admitted]
    high = [_cap_a(d) for d in admitted]
    item_keys = [keys[d.id] for d in admitted]
    members: dict[int, list[int]] = {}
    for item, its_keys in enumerate(item_keys):
        for key in its_keys:
            members.setdefault(key, []).append(item)
    state = [_PENDING] * count
    value = low.copy()
    bound: list[int | None] = [None] * count
    starts = sorted(range(count), key=low.__getitem__)
    stops = sorted(range(count), key=high.__getitem__)
    next_start = next_stop = growing = 0
    filling = _Filling(slack, low[starts[0]])

    def stop(item: int, key: int | None) -> None:
        state[item] = _FROZEN
        value[item] = min(max(filling.level, low[item]), high[item])
        bound[item] = key
        for its_key in item_keys[item]:
            filling.change(its_key, -1)

    while True:
        while next_start < count and low[starts[next_start]] <= filling.level + EPSILON_A:
            item = starts[next_start]
            next_start += 1
            if state[item] == _PENDING:
                state[item] = _GROWING
                growing += 1
                for key in item_keys[item]:
                    filling.change(key, 1)
        while next_stop < count and (
            state[stops[next_stop]] == _FROZEN
            or high[stops[next_stop]] <= filling.level + EPSILON_A
        ):
            item = stops[next_stop]
            next_stop += 1
            if state[item] == _GROWING:
                growing -= 1
                stop(item, None)
        if not growing:
            if next_start == count:
                break
            filling.level = low[starts[next_start]]
            continue
        next_event = min(
            low[starts[next_start]] if next_start < count else math.inf,
            high[stops[next_stop]] if next_stop < count else math.inf,
        )
        full = filling.next_full()
        if full is not None and full[0] <= next_event:
            filling.fill(full[1], full[0])
            for item in members[full[1]]:
                if state[item] == _GROWING:
                    growing -= 1
                    stop(item, full[1])
        elif math.isinf(next_event):
            break
        else:
            filling.level = next_event
    filling.finish()

    for item, demand in enumerate(admitted):
        if bound[item] is None:
            results[demand.id] = _bound(value[item], _cap_reason(demand), None, nodes)
        else:
            results[demand.id] = _bound(value[item], Reason.NODE_LIMIT, bound[item], nodes)
