"""The site model the balancing engine works on.

Pure data: no Home Assistant, no I/O, no clock. Times are seconds on one monotonic clock that
the caller chooses (Home Assistant's loop time, or the simulator's clock).

Currents are amperes per *site line*: index 0, 1, 2 for L1, L2, L3 (a single-phase site uses
index 0 only). A charger's conductors are mapped to site lines by its wiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

SITE_NODE_ID = "site"
IEC_61851_MIN_A = 6.0

type PhaseCurrents = tuple[float, float, float]
"""Amperes on site lines L1, L2, L3."""


class Line(IntEnum):
    """A site line (phase conductor)."""

    L1 = 0
    L2 = 1
    L3 = 2


class GridType(StrEnum):
    """How loads connect: TN/TT between a line and neutral, IT between two lines."""

    TN = "TN"
    IT = "IT"


class Strategy(StrEnum):
    """The order within one priority level (a higher priority is always served first)."""

    EQUAL_SHARE = "equal_share"
    FIRST_COME = "first_come"


class Reason(StrEnum):
    """Why a charger got the limit it got."""

    NODE_LIMIT = "node_limit"
    """Bounded by a node's headroom on one line (see `ChargerLimit.node_id` / `line`)."""
    CHARGER_MAX = "charger_max"
    VEHICLE_DEMAND = "vehicle_demand"
    """The car draws less than offered; the rest went to others."""
    BELOW_MINIMUM = "below_minimum"
    """Paused: what is left is below the charger's minimum current."""
    ROTATION = "rotation"
    """Paused so that others get their turn; resumes at a later rotation."""
    FAILSAFE = "failsafe"
    """A meter of a node above the charger is stale; failsafe current applies."""
    DISABLED = "disabled"
    NOT_CHARGING = "not_charging"
    """No vehicle connected, or the session does not want energy."""
    OFFLINE = "offline"
    """Not connected or not responding; counted at the most it could draw."""
    RAMP_HOLD = "ramp_hold"
    """A raise waits until the previous change has settled."""
    CHANGE_BUDGET = "change_budget"
    """A raise waits because the charger's hourly budget of changes is used up."""


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """The site (root, id `SITE_NODE_ID`, parent None) or a group below it."""

    id: str
    parent: str | None
    limit_a: PhaseCurrents
    meter_id: str | None = None
    """The meter measuring this node, if any; unmetered nodes are bounded by their limit."""
    meter_includes_chargers: bool = True
    """Whether the meter's reading includes the controlled chargers below this node."""


@dataclass(frozen=True, kw_only=True)
class ChargerConfig:
    """One charger (one connector/EVSE of a dual-connector charger is one ChargerConfig)."""

    id: str
    group: str
    """The node the charger hangs from (`SITE_NODE_ID` or a group id)."""
    phases: int
    """1 or 3: the phases the charger itself is wired for."""
    wiring: tuple[Line, ...]
    """Site line feeding each of the charger's conductors, in order.

    TN: 3-phase a permutation of (L1, L2, L3); 1-phase one line.
    IT: a 1-phase charger names the pair of lines it sits between (it loads both); a 3-phase
    charger a permutation, a 1-phase car on it loads its first two conductors.
    """
    min_a: float = IEC_61851_MIN_A
    max_a: float = 16.0
    priority: int = 0
    """Higher is served first."""
    enabled: bool = True
    parent_charger: str | None = None
    """For one connector of a multi-connector charger: the id of the shared supply's node."""


@dataclass(frozen=True, kw_only=True)
class SiteConfig:
    """Everything the engine needs to know about a site that changes only on reconfiguration."""

    phases: int = 3
    grid: GridType = GridType.TN
    voltage_v: float = 230.0
    margin_a: float = 2.0
    """Kept free on every line of every metered node."""
    reserve_a: float = 0.0
    """Reserve for a sudden rise of non-EV load (added to the margin)."""
    failsafe_a: float = IEC_61851_MIN_A
    """Per charger while a meter above it is stale; 0 pauses."""
    strategy: Strategy = Strategy.EQUAL_SHARE
    nodes: tuple[NodeConfig, ...] = ()
    chargers: tuple[ChargerConfig, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ControllerSettings:
    """Tuning of the control loop around the allocation."""

    meter_timeout_s: float = 10.0
    charger_timeout_s: float = 60.0
    settle_s: float = 15.0
    """After a change, wait this long before raising the same charger again."""
    raise_step_a: float = 32.0
    """Largest raise per change (lowering is never limited)."""
    min_change_a: float = 0.5
    """Smaller changes are not sent (except lowering for safety)."""
    max_changes_per_hour: int = 60
    """Raises beyond this per charger and hour wait; lowering is never held back."""
    rotation_interval_s: float = 900.0
    reoffer_interval_s: float = 300.0
    """How often a car that draws less than offered is offered its full share again."""
    demand_headroom_a: float = 1.0
    """Offer this much above what a car draws when it draws less than offered."""


@dataclass(frozen=True, kw_only=True)
class MeterReading:
    """One reading of a meter: amperes per site line (None where the meter has no value)."""

    currents_a: tuple[float | None, float | None, float | None]
    at: float
    """When the reading was taken (seconds, the snapshot's clock)."""


@dataclass(frozen=True, kw_only=True)
class ChargerObservation:
    """What the edges know of one charger right now."""

    online: bool
    """Connected and answering."""
    vehicle_connected: bool
    """A car is plugged in and the session may take energy."""
    currents_a: tuple[float, ...] | None = None
    """Measured current per charger conductor (Current.Import L1, L2, L3), if reported."""
    measured_at: float | None = None
    session_energy_kwh: float = 0.0
    session_started_at: float | None = None
    """For first-come ordering."""
    applied_limit_a: float | None = None
    """The limit the charger holds (the last one it acknowledged), if known."""


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """The site at one instant."""

    now: float
    meters: Mapping[str, MeterReading] = field(default_factory=dict)
    chargers: Mapping[str, ChargerObservation] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ChargerLimit:
    """The engine's decision for one charger."""

    limit_a: float
    """Amperes per conductor to offer; 0 pauses."""
    phases: int
    """numberPhases to send with the limit."""
    reason: Reason
    node_id: str | None = None
    line: Line | None = None
    """With NODE_LIMIT: the node and line that bound the allocation; with ROTATION or
    BELOW_MINIMUM: the node and line that had no room left for the minimum."""


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """The outcome of one control step."""

    limits: Mapping[str, ChargerLimit]
    headroom_a: Mapping[str, PhaseCurrents]
    """Per node: what is left for more charging after this step's allocation."""
    allocated_a: Mapping[str, PhaseCurrents]
    """Per node: what the chargers below it are allowed to draw after this step."""
    failsafe_nodes: frozenset[str]
    """Nodes running on failsafe because their meter (or an ancestor's) is stale."""
