"""OCPP central system (1.6J and 2.0.1) for chargers: states in, limits out.

No balancing decisions are made here, and nothing from Home Assistant is needed: the server
runs in the caller's event loop on its own aiohttp site, and time comes from an injected clock.

Use::

    central = CentralSystem(
        CentralSystemSettings(host="0.0.0.0", port=9000, failsafe_current_a=6.0),
        charger_config=lambda cp_id: configured.get(cp_id),  # ChargerConfig or None
        listener=on_event,  # called in the event loop with a ChargerEvent
        authorize=None,  # (cp_id, id_tag) -> bool for Authorize and sessions; None: accept all
        clock=utc_now,  # wall clock for the chargers' clocks, timestamps and leases
    )
    await central.start()
    outcome = await central.apply_limit("CP-1", 1, 10.0, phases=3)
    await central.stop()

Connections. Charge points connect to ``ws[s]://host:port/<any path>/<charge point id>``
with subprotocol ``ocpp1.6`` or ``ocpp2.0.1``. ``charger_config`` is asked on every connect
and boot: a ``ChargerConfig`` makes the id known (its ``password`` enables HTTP basic auth,
security profile 1; with ``settings.ssl_context`` that is profile 2), None makes it unknown:
refused (HTTP 404) or, with ``UnknownChargerPolicy.PENDING``, answered Pending and never
controlled until ``charger_config`` knows it at its next boot.

State. ``central.chargers[cp_id]`` is a ``ChargerState`` kept across reconnects: connected,
registration, OCPP version, vendor/model/serial/firmware, ``capabilities`` (from
GetConfiguration or the device model), ``failsafe`` (the base profile) and ``connectors``,
keyed by connector id (1.6) or EVSE id (2.0.1), 0 being the station. A ``ConnectorState``
holds status, charging state, transaction, ``current_import_a`` per phase, offered current,
power, energy register, session energy and ``limit`` (requested, accepted by the charger,
purpose, lease end, rejection reason). Treat all of it as read-only.

Events. The listener gets ``ChargerEvent(type, charge_point_id, connector_id, reason)`` with
type CONNECTED, DISCONNECTED, PENDING (unknown charger booted), BOOTED, STATUS, TRANSACTION,
METER_VALUES, CAPABILITIES or LIMIT_REJECTED (reason says why; connector 0 with a reason
starting "failsafe profile" when the base profile was refused).

Limits. ``await apply_limit(cp_id, connector_id, limit_a, phases)`` returns a
``LimitOutcome``: ACCEPTED, REJECTED (with reason) or NOT_CONNECTED, and whether anything was
sent. The limit is rounded down to 0.1 A and sent only when it drops, rises by
``min_change_a``, changes phases or purpose, or half of its lease has passed: call it on every
balancing cycle, at least twice per ``settings.lease``, or the charger falls back to its
failsafe current by design. During a session it goes out as a TxProfile, otherwise as a
TxDefaultProfile; a refused purpose is retried with the other and then surfaced. Connector 0
sets the station maximum (ChargePointMaxProfile / ChargingStationMaxProfile on EVSE 0), without
a lease, for a rarely changed cap. Chargers that accept only watts get ``A x V x phases``.
``clear_limit`` removes a dynamic limit. After a reboot (a BootNotification) the base profile
and every limit requested within the last lease are sent again; after a mere reconnect the
charger still holds them and only the usual rules apply.

Housekeeping. ``port`` is the port bound (settings may ask for 0). ``disconnect(cp_id)``
closes a charger's socket, for example after the user removed or adopted it; it reconnects
and registers again. ``forget(cp_id)`` drops the state of a charger that is not connected.
``stop()`` closes every socket and the port and returns when all their tasks are done.

Bad input. A frame that is not OCPP-J, an unknown action or a schema violation gets a
CallError; binary and oversized frames close that socket. A charger's requests are answered
at ``max_messages_per_s`` after a burst of ``max_message_burst`` (a charger emptying its
offline queue is slowed, not cut off); one with more than ``max_pending_frames`` frames
waiting to be handled is flooding and loses its socket. Other chargers are not affected.
"""

from .models import (
    DEFAULT_PORT,
    Capabilities,
    CentralSystemSettings,
    ChargerConfig,
    ChargerEvent,
    ChargerState,
    ConnectorState,
    EventType,
    FailsafeState,
    LimitOutcome,
    LimitResult,
    LimitState,
    OcppVersion,
    PhaseValues,
    ProfilePurpose,
    Registration,
    Transaction,
    UnknownChargerPolicy,
)
from .server import CentralSystem

__all__ = [
    "DEFAULT_PORT",
    "Capabilities",
    "CentralSystem",
    "CentralSystemSettings",
    "ChargerConfig",
    "ChargerEvent",
    "ChargerState",
    "ConnectorState",
    "EventType",
    "FailsafeState",
    "LimitOutcome",
    "LimitResult",
    "LimitState",
    "OcppVersion",
    "PhaseValues",
    "ProfilePurpose",
    "Registration",
    "Transaction",
    "UnknownChargerPolicy",
]
