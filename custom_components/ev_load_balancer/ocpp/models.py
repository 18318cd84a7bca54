"""Settings, per-charger state, events and outcomes of the OCPP central system."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import ssl

DEFAULT_PORT = 9000


class OcppVersion(StrEnum):
    """Protocol version negotiated through the websocket subprotocol."""

    V16 = "1.6"
    V201 = "2.0.1"


SUBPROTOCOLS: dict[str, OcppVersion] = {
    "ocpp1.6": OcppVersion.V16,
    "ocpp2.0.1": OcppVersion.V201,
}


class UnknownChargerPolicy(StrEnum):
    """What happens when a charge point id the integration does not know connects."""

    REJECT = "reject"
    PENDING = "pending"


class Registration(StrEnum):
    """Whether a charger may be controlled."""

    ACCEPTED = "accepted"
    PENDING = "pending"


class ProfilePurpose(StrEnum):
    """Charging profile purpose, named as in OCPP 1.6 (2.0.1 names the station one differently)."""

    TX_PROFILE = "TxProfile"
    TX_DEFAULT_PROFILE = "TxDefaultProfile"
    STATION_MAX_PROFILE = "ChargePointMaxProfile"


class EventType(StrEnum):
    """What changed; the listener reads the details from the charger's state."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    PENDING = "pending"
    BOOTED = "booted"
    STATUS = "status"
    TRANSACTION = "transaction"
    METER_VALUES = "meter_values"
    CAPABILITIES = "capabilities"
    LIMIT_REJECTED = "limit_rejected"


class LimitResult(StrEnum):
    """Outcome of applying a limit."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NOT_CONNECTED = "not_connected"


@dataclass(frozen=True, kw_only=True, slots=True)
class ChargerConfig:
    """What the integration knows about a configured charger."""

    # None: the charger connects without HTTP basic auth (security profile 0).
    password: str | None = None
    # None: the central system's default failsafe current.
    failsafe_current_a: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CentralSystemSettings:
    """Settings of the central system; host, port and TLS need a restart to change."""

    host: str
    port: int = DEFAULT_PORT
    ssl_context: ssl.SSLContext | None = None
    unknown_chargers: UnknownChargerPolicy = UnknownChargerPolicy.REJECT
    failsafe_current_a: float = 6.0
    lease: timedelta = timedelta(minutes=5)
    # Smaller increases are not sent: they cost a charger write and gain little.
    min_change_a: float = 0.5
    voltage_v: float = 230.0
    heartbeat_interval_s: int = 60
    # Websocket pings find a charger that vanished without closing its connection.
    ping_interval_s: float | None = 30.0
    meter_sample_interval_s: int = 10
    response_timeout_s: float = 10.0
    max_frame_bytes: int = 65536
    # A charger's requests are answered at most this fast on average, after a burst: a
    # charger emptying its offline queue is slowed down, not cut off.
    max_messages_per_s: float = 10.0
    max_message_burst: int = 60
    # OCPP-J allows one unanswered request per side; a charger with more frames waiting
    # than this is flooding, and loses its socket.
    max_pending_frames: int = 20


@dataclass(slots=True)
class PhaseValues:
    """A per-phase quantity in the charger's own phase order (L1, L2, L3)."""

    l1: float | None = None
    l2: float | None = None
    l3: float | None = None
    # A value the charger reported without a phase.
    unphased: float | None = None


@dataclass(kw_only=True, slots=True)
class Transaction:
    """A charging session as the charger reported it."""

    transaction_id: str
    started_at: datetime | None = None
    id_tag: str | None = None
    # Register reading at the start; the first reading seen when the charger gave none.
    meter_start_wh: float | None = None


@dataclass(kw_only=True, slots=True)
class LimitState:
    """The dynamic limit of one connector (or of the whole station on connector 0)."""

    requested_a: float | None = None
    requested_phases: int = 3
    requested_at: datetime | None = None
    # What the charger holds: the last value it accepted.
    sent_a: float | None = None
    sent_phases: int | None = None
    purpose: ProfilePurpose | None = None
    transaction_id: str | None = None
    sent_at: datetime | None = None
    valid_until: datetime | None = None
    # None until a first answer; False with a reason after a rejection or failure.
    accepted: bool | None = None
    rejection: str | None = None
    rejected_at: datetime | None = None


@dataclass(kw_only=True, slots=True)
class ConnectorState:
    """One connector (OCPP 1.6) or EVSE (OCPP 2.0.1); id 0 is the station itself."""

    connector_id: int
    status: str | None = None
    error_code: str | None = None
    # OCPP 2.0.1 charging state from TransactionEvent (Charging, SuspendedEV, ...).
    charging_state: str | None = None
    transaction: Transaction | None = None
    current_import_a: PhaseValues = field(default_factory=PhaseValues)
    current_offered_a: float | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    session_energy_wh: float | None = None
    meter_updated_at: datetime | None = None
    limit: LimitState = field(default_factory=LimitState)


@dataclass(kw_only=True, slots=True)
class Capabilities:
    """What the charger told about itself (GetConfiguration or its device model)."""

    smart_charging: bool | None = None
    max_stack_level: int | None = None
    # "A" and/or "W"; None while unknown.
    rate_units: frozenset[str] | None = None
    max_periods: int | None = None
    number_of_connectors: int | None = None
    sampled_measurands: tuple[str, ...] | None = None
    sample_interval_s: int | None = None
    # Raw values: configuration keys (1.6) or "Component/Variable" names (2.0.1).
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class FailsafeState:
    """The base profile that holds the charger at its failsafe current."""

    current_a: float | None = None
    accepted: bool | None = None
    rejection: str | None = None
    written_at: datetime | None = None


@dataclass(kw_only=True, slots=True)
class ChargerState:
    """Everything known about one charge point; owned by the central system, read-only outside."""

    charge_point_id: str
    registration: Registration
    connected: bool = False
    ocpp_version: OcppVersion | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    connected_at: datetime | None = None
    last_seen: datetime | None = None
    booted_at: datetime | None = None
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    capabilities: Capabilities = field(default_factory=Capabilities)
    failsafe: FailsafeState = field(default_factory=FailsafeState)

    def connector(self, connector_id: int) -> ConnectorState:
        """Return the connector's state, creating it on first sight."""
        if (state := self.connectors.get(connector_id)) is None:
            state = self.connectors[connector_id] = ConnectorState(connector_id=connector_id)
        return state


@dataclass(frozen=True, kw_only=True, slots=True)
class ChargerEvent:
    """A change the listener hears about."""

    type: EventType
    charge_point_id: str
    connector_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LimitOutcome:
    """What became of an apply_limit or clear_limit call."""

    result: LimitResult
    # False when the charger already holds an equivalent, fresh limit.
    sent: bool
    purpose: ProfilePurpose | None = None
    reason: str | None = None


type Clock = Callable[[], datetime]
type ChargerConfigLookup = Callable[[str], ChargerConfig | None]
type AuthorizeIdTag = Callable[[str, str], bool]
type Listener = Callable[[ChargerEvent], None]


def utc_now() -> datetime:
    """Wall clock in UTC, the default clock."""
    return datetime.now(UTC)
