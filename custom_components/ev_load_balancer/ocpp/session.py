"""One charger's connection: state updates, set-up after connecting, and its limits.

The safety net lives here. Each charger holds a base profile (TxDefaultProfile, stack level 0,
on connector 0, no expiry) at its failsafe current, written once per Home Assistant run and
again after the charger reboots. The dynamic limit of a connector goes on top at stack level 1
with a lease (validTo and a matching schedule duration). apply_limit refreshes the lease when
half of it has passed, so if Home Assistant, the network or the balancing loop stops, the
charger falls back by itself to the failsafe current within one lease.
"""

import asyncio
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
import json
import logging
import math
from typing import Any

from aiohttp import WSCloseCode
from ocpp.exceptions import (
    FormatViolationError,
    OCPPError,
    SecurityError,
    UnknownCallErrorCodeError,
)
from ocpp.messages import MessageType, unpack

from .connection import ConnectionClosedError, TokenBucket, WebSocketConnection
from .meter import apply_meter_values
from .models import (
    AuthorizeIdTag,
    CentralSystemSettings,
    ChargerConfigLookup,
    ChargerEvent,
    ChargerState,
    Clock,
    ConnectorState,
    EventType,
    LimitOutcome,
    LimitResult,
    LimitState,
    OcppVersion,
    ProfilePurpose,
    Registration,
    Transaction,
)
from .protocol import Answer, ChargerProtocol, Profile

_LOGGER = logging.getLogger(__name__)

BASE_PROFILE_ID = 100
STATION_PROFILE_ID = 101
# The dynamic profile of connector n is DYNAMIC_PROFILE_ID + n, whatever its purpose, so a
# TxProfile replaces a TxDefaultProfile on the same connector rather than stacking with it.
DYNAMIC_PROFILE_ID = 200
BASE_STACK_LEVEL = 0
DYNAMIC_STACK_LEVEL = 1
# Watts for a failsafe assume one phase: a single-phase car then draws no more than the
# failsafe current, a three-phase one less.
_FAILSAFE_WATT_PHASES = 1
# A malformed frame costs this many messages of the charger's allowance.
_MALFORMED_COST = 5.0

type Emit = Callable[[ChargerEvent], None]


@dataclass(kw_only=True, slots=True)
class ChargerMemory:
    """What the central system remembers about a charger between its connections."""

    capabilities_read: bool = False
    capabilities_firmware: str | None = None
    # Purposes the charger refused; skipped while another one works.
    rejected_purposes: set[ProfilePurpose] = field(default_factory=set)
    # (limit, phases) of the last refused attempt per connector, to avoid resending it at once.
    refused: dict[int, tuple[float, int]] = field(default_factory=dict)
    next_transaction_id: int = 0


def floor_tenth(value: float) -> float:
    """Round down to 0.1 (the resolution OCPP allows), never up; no number means 0."""
    if not math.isfinite(value):
        return 0.0
    return math.floor(value * 10 + 1e-6) / 10


class ChargerSession:
    """Everything that happens on one charger's websocket, whatever the OCPP version."""

    def __init__(
        self,
        *,
        state: ChargerState,
        memory: ChargerMemory,
        connection: WebSocketConnection,
        settings: CentralSystemSettings,
        charger_config: ChargerConfigLookup,
        authorize: AuthorizeIdTag | None,
        clock: Clock,
        emit: Emit,
    ) -> None:
        """Create the session; attach a protocol before running it."""
        self.state = state
        self.memory = memory
        self.connection = connection
        self.settings = settings
        self._charger_config = charger_config
        self._authorize = authorize
        self.clock = clock
        self._emit = emit
        self.protocol: ChargerProtocol | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._set_up = False
        self._in_flight = 0
        self._closed = asyncio.Event()

    @property
    def charge_point_id(self) -> str:
        """The charge point id."""
        return self.state.charge_point_id

    # Called by the protocol handlers.

    def emit(
        self, event_type: EventType, connector_id: int | None = None, reason: str | None = None
    ) -> None:
        """Tell the listener."""
        self._emit(
            ChargerEvent(
                type=event_type,
                charge_point_id=self.charge_point_id,
                connector_id=connector_id,
                reason=reason,
            )
        )

    def require_accepted(self) -> None:
        """Refuse requests from a charger the user has not accepted yet."""
        if self.state.registration is not Registration.ACCEPTED:
            raise SecurityError(description="Charge point is not accepted")

    def authorize(self, id_tag: str) -> bool:
        """Apply the authorize policy: everyone unless a policy says otherwise."""
        return self._authorize is None or self._authorize(self.charge_point_id, id_tag)

    def on_boot(
        self,
        *,
        vendor: str | None,
        model: str | None,
        serial_number: str | None,
        firmware_version: str | None,
    ) -> Registration:
        """Record a BootNotification and decide whether the charger is accepted."""
        state = self.state
        state.vendor, state.model = vendor, model
        state.serial_number, state.firmware_version = serial_number, firmware_version
        state.booted_at = self.clock()
        # The user may have accepted a pending charger, or removed a known one, since it
        # connected.
        known = self._charger_config(self.charge_point_id) is not None
        state.registration = Registration.ACCEPTED if known else Registration.PENDING
        self.emit(
            EventType.BOOTED if state.registration is Registration.ACCEPTED else EventType.PENDING
        )
        return state.registration

    def boot_answered(self) -> None:
        """Set the charger up once it knows it is accepted; a reboot may have lost profiles."""
        if self.state.registration is Registration.ACCEPTED:
            self._start_setup(rebooted=True)

    def on_status(self, connector_id: int, status: str, error_code: str | None) -> None:
        """Record a StatusNotification."""
        connector = self.state.connector(connector_id)
        connector.status, connector.error_code = status, error_code
        self.emit(EventType.STATUS, connector_id)

    def new_transaction_id(self) -> int:
        """A transaction id for OCPP 1.6, unique across restarts of Home Assistant."""
        if self.memory.next_transaction_id == 0:
            self.memory.next_transaction_id = int(self.clock().timestamp()) % 2**30
        self.memory.next_transaction_id += 1
        return self.memory.next_transaction_id

    def start_transaction(
        self,
        connector_id: int,
        transaction_id: str,
        *,
        id_tag: str | None,
        meter_start_wh: float | None,
        started_at: datetime | None,
    ) -> ConnectorState:
        """Record a new transaction on a connector."""
        connector = self.state.connector(connector_id)
        connector.transaction = Transaction(
            transaction_id=transaction_id,
            started_at=started_at,
            id_tag=id_tag,
            meter_start_wh=meter_start_wh,
        )
        connector.session_energy_wh = 0.0 if meter_start_wh is not None else None
        # A TxProfile refused without a session, or at the end of the last one, gets
        # another chance in this one.
        self.memory.rejected_purposes.discard(ProfilePurpose.TX_PROFILE)
        self.memory.refused.pop(connector_id, None)
        self.emit(EventType.TRANSACTION, connector_id)
        return connector

    def find_transaction(self, transaction_id: str) -> ConnectorState | None:
        """Return the connector running a transaction."""
        for connector in self.state.connectors.values():
            if connector.transaction and connector.transaction.transaction_id == transaction_id:
                return connector
        return None

    def stop_transaction(
        self, transaction_id: str, meter_stop_wh: float | None = None
    ) -> ConnectorState | None:
        """Record the end of a transaction."""
        if (connector := self.find_transaction(transaction_id)) is None:
            return None
        transaction = connector.transaction
        if meter_stop_wh is not None and transaction and transaction.meter_start_wh is not None:
            connector.energy_wh = meter_stop_wh
            connector.session_energy_wh = max(0.0, meter_stop_wh - transaction.meter_start_wh)
        connector.transaction = None
        self.emit(EventType.TRANSACTION, connector.connector_id)
        return connector

    def on_meter_values(self, connector_id: int, meter_values: Sequence[Mapping[str, Any]]) -> None:
        """Record MeterValues (or the meter values of a transaction message)."""
        connector = self.state.connector(connector_id)
        if apply_meter_values(connector, meter_values, self.clock()):
            self.emit(EventType.METER_VALUES, connector_id)

    # The connection.

    async def run(self) -> None:
        """Receive and handle frames until the socket closes."""
        frames: asyncio.Queue[str | None] = asyncio.Queue()
        self._spawn(self._read(frames), "OCPP reader")
        pace = TokenBucket(
            self.settings.max_messages_per_s,
            self.settings.max_message_burst,
            asyncio.get_running_loop().time,
        )
        try:
            while (raw := await frames.get()) is not None:
                await self._handle_frame(raw, pace)
        except ConnectionClosedError:
            pass
        finally:
            await self._cancel_tasks()
            if not self.connection.closed:
                await self.close(WSCloseCode.GOING_AWAY, "")

    async def _read(self, frames: asyncio.Queue[str | None]) -> None:
        """Queue received frames, so that a flood shows as frames waiting to be handled."""
        try:
            while True:
                raw = await self.connection.recv()
                if frames.qsize() >= self.settings.max_pending_frames:
                    await self.close(WSCloseCode.POLICY_VIOLATION, "too many unanswered messages")
                    return
                frames.put_nowait(raw)
        except ConnectionClosedError:
            pass
        finally:
            self._closed.set()
            frames.put_nowait(None)

    async def _wait_turn(self, pace: TokenBucket, cost: float = 1.0) -> None:
        """Wait until the charger's message allowance lets this frame through."""
        if (delay := pace.delay(cost)) <= 0:
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._closed.wait()
        if self._closed.is_set():
            raise ConnectionClosedError(self.connection.close_reason)

    async def _handle_frame(self, raw: str, pace: TokenBucket) -> None:
        self.state.last_seen = self.clock()
        try:
            message = unpack(raw)
        except OCPPError as err:
            # Garbage is answered, slowly.
            await self._wait_turn(pace, _MALFORMED_COST)
            await self.connection.send(self._call_error(raw, err))
            return
        if message.message_type_id != MessageType.Call and not self._in_flight:
            # An answer nobody waits for; the library would queue it for ever.
            await self._wait_turn(pace)
            return
        if message.message_type_id == MessageType.Call:
            # Answers to our own requests are not paced: we set their pace.
            await self._wait_turn(pace)
            if not isinstance(message.action, str):
                # The library looks actions up by name: a list or object there breaks it.
                error = FormatViolationError(description="the action must be a string")
                await self.connection.send(self._call_error(raw, error))
                return
        await self._protocol().route_message(raw)
        # A charger that reconnects without rebooting sends no BootNotification: its first
        # other message shows it is up.
        if not self._set_up and self.state.registration is Registration.ACCEPTED:
            self._start_setup(rebooted=False)

    def _call_error(self, raw: str, err: OCPPError) -> str:
        """A CallError for a frame that is not OCPP-J, with its id when one can be found."""
        unique_id = "-1"
        with suppress(ValueError):
            decoded = json.loads(raw)
            if isinstance(decoded, list) and len(decoded) > 1 and isinstance(decoded[1], str):
                unique_id = decoded[1]
        code = err.code
        if code == "FormatViolation" and self.state.ocpp_version is OcppVersion.V16:
            # OCPP 1.6 spells it this way.
            code = "FormationViolation"
        return json.dumps([4, unique_id, code, err.description, {}], separators=(",", ":"))

    async def close(self, code: int, reason: str) -> None:
        """Close the socket; run() then ends."""
        await self.connection.close(code, reason)

    def _spawn[T](self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{name} {self.charge_point_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @contextmanager
    def _awaiting_answer(self) -> Iterator[None]:
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    async def _owned[T](self, coro: Coroutine[Any, Any, T], name: str) -> T:
        """Run requests in a task the session owns, so that closing it ends them at once."""
        task = self._spawn(coro, name)
        try:
            with self._awaiting_answer():
                return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise ConnectionClosedError("connection closed") from None
            raise

    # Set-up after connecting.

    def _start_setup(self, *, rebooted: bool) -> None:
        self._set_up = True
        self._spawn(self._setup(rebooted=rebooted), "OCPP set-up")

    async def _setup(self, *, rebooted: bool) -> None:
        """Read capabilities once, configure sampling, then re-establish the profiles."""
        async with self._lock:
            memory, state = self.memory, self.state
            try:
                stale = not memory.capabilities_read or (
                    rebooted and memory.capabilities_firmware != state.firmware_version
                )
                if stale and await self._attempt(self._protocol().read_capabilities(), "read"):
                    memory.capabilities_read = True
                    memory.capabilities_firmware = state.firmware_version
                    self.emit(EventType.CAPABILITIES)
                await self._attempt(self._protocol().configure_sampling(), "configure")
                await self._ensure_failsafe(force=rebooted)
                lease = self.settings.lease
                now = self.clock()
                for connector in list(state.connectors.values()):
                    requested_a = connector.limit.requested_a
                    requested_at = connector.limit.requested_at
                    # Only a request the balancer made within one lease is still its wish.
                    if requested_a is not None and requested_at and now - requested_at < lease:
                        # A charger that only reconnected still holds its profiles.
                        await self._send_limit(connector, requested_a, force=rebooted)
            except ConnectionClosedError:
                return

    async def _attempt(self, coro: Coroutine[Any, Any, None], what: str) -> bool:
        try:
            with self._awaiting_answer():
                await coro
        except (TimeoutError, OCPPError, UnknownCallErrorCodeError) as err:
            _LOGGER.warning("%s did not answer the %s request: %s", self.charge_point_id, what, err)
            return False
        return True

    def _protocol(self) -> ChargerProtocol:
        if self.protocol is None:
            raise RuntimeError("No protocol attached to the session")
        return self.protocol

    # Limits.

    def _failsafe_current_a(self) -> float:
        config = self._charger_config(self.charge_point_id)
        if config is not None and config.failsafe_current_a is not None:
            return floor_tenth(max(0.0, config.failsafe_current_a))
        return floor_tenth(max(0.0, self.settings.failsafe_current_a))

    def _rate(self, limit_a: float, phases: int) -> tuple[str, float]:
        """Return the unit and value to send: amperes unless the charger accepts only watts."""
        units = self.state.capabilities.rate_units
        if units is None or "A" in units or "W" not in units:
            return "A", limit_a
        return "W", float(math.floor(limit_a * self.settings.voltage_v * phases))

    async def _request(self, profile: Profile) -> Answer:
        try:
            return await self._owned(self._protocol().set_profile(profile), "OCPP profile")
        except TimeoutError:
            return Answer(accepted=False, reason="no answer")
        except OCPPError as err:
            return Answer(accepted=False, reason=f"{type(err).__name__}: {err.description}")
        except UnknownCallErrorCodeError as err:
            # A CallError with a code of another OCPP version or a vendor's own.
            return Answer(accepted=False, reason=str(err))

    async def _ensure_failsafe(self, *, force: bool) -> None:
        """Write the base profile when it is missing, stale or may have been lost."""
        failsafe = self.state.failsafe
        current_a = self._failsafe_current_a()
        now = self.clock()
        if (
            not force
            and failsafe.current_a == current_a
            and failsafe.written_at is not None
            # A refused base profile is retried now and then, not on every call.
            and (failsafe.accepted or now - failsafe.written_at < self.settings.lease / 2)
        ):
            return
        unit, value = self._rate(current_a, _FAILSAFE_WATT_PHASES)
        answer = await self._request(
            Profile(
                profile_id=BASE_PROFILE_ID,
                connector_id=0,
                purpose=ProfilePurpose.TX_DEFAULT_PROFILE,
                stack_level=BASE_STACK_LEVEL,
                limit=value,
                unit=unit,
                phases=_FAILSAFE_WATT_PHASES if unit == "W" else None,
                start=now,
                valid_to=None,
            )
        )
        failsafe.current_a = current_a
        failsafe.accepted = answer.accepted
        failsafe.rejection = answer.reason
        failsafe.written_at = now
        if not answer.accepted:
            _LOGGER.warning(
                "%s refused the failsafe profile: %s", self.charge_point_id, answer.reason
            )
            self.emit(EventType.LIMIT_REJECTED, 0, f"failsafe profile: {answer.reason}")

    def _purposes(self, connector: ConnectorState) -> list[ProfilePurpose]:
        """Purposes to try, best first.

        A TxProfile reaches a running session on every charger; some apply a changed
        TxDefaultProfile only at the next session. Without a session only TxDefaultProfile
        is allowed.
        """
        if connector.connector_id == 0:
            return [ProfilePurpose.STATION_MAX_PROFILE]
        candidates = [ProfilePurpose.TX_DEFAULT_PROFILE]
        if connector.transaction is not None:
            candidates.insert(0, ProfilePurpose.TX_PROFILE)
        usable = [p for p in candidates if p not in self.memory.rejected_purposes]
        return usable or candidates

    def _needs_sending(
        self, connector: ConnectorState, purpose: ProfilePurpose, value: float
    ) -> bool:
        limit = connector.limit
        phases = limit.requested_phases
        now = self.clock()
        refresh_after = self.settings.lease / 2
        if limit.accepted is False:
            refused = self.memory.refused.get(connector.connector_id)
            return refused != (value, phases) or (
                limit.rejected_at is not None and now - limit.rejected_at >= refresh_after
            )
        if limit.accepted is None or limit.sent_a is None or purpose is not limit.purpose:
            return True
        transaction = connector.transaction
        if purpose is ProfilePurpose.TX_PROFILE and (
            transaction is None or transaction.transaction_id != limit.transaction_id
        ):
            return True
        if phases != limit.sent_phases or value < limit.sent_a:
            return True
        # Resuming from a pause always goes out, however small the step.
        if value - limit.sent_a >= self.settings.min_change_a or (limit.sent_a == 0 < value):
            return True
        return limit.valid_until is not None and now >= limit.valid_until - refresh_after

    def _profile(
        self, connector: ConnectorState, purpose: ProfilePurpose, limit_a: float
    ) -> Profile:
        limit = connector.limit
        unit, value = self._rate(limit_a, limit.requested_phases)
        now = self.clock()
        station = purpose is ProfilePurpose.STATION_MAX_PROFILE
        transaction = connector.transaction
        return Profile(
            profile_id=STATION_PROFILE_ID
            if station
            else DYNAMIC_PROFILE_ID + connector.connector_id,
            connector_id=connector.connector_id,
            purpose=purpose,
            stack_level=DYNAMIC_STACK_LEVEL,
            limit=value,
            unit=unit,
            phases=limit.requested_phases,
            start=now,
            # The station maximum is a rarely changed cap: no lease, so no periodic writes.
            valid_to=None if station else now + self.settings.lease,
            transaction_id=(
                transaction.transaction_id
                if transaction and purpose is ProfilePurpose.TX_PROFILE
                else None
            ),
        )

    async def _send_limit(
        self, connector: ConnectorState, limit_a: float, *, force: bool
    ) -> LimitOutcome:
        limit = connector.limit
        purposes = self._purposes(connector)
        if not force and not self._needs_sending(connector, purposes[0], limit_a):
            if limit.accepted is False:
                return LimitOutcome(result=LimitResult.REJECTED, sent=False, reason=limit.rejection)
            return LimitOutcome(result=LimitResult.ACCEPTED, sent=False, purpose=limit.purpose)
        reasons: list[str] = []
        for purpose in purposes:
            profile = self._profile(connector, purpose, limit_a)
            answer = await self._request(profile)
            if answer.accepted:
                self._record_accepted(limit, profile, limit_a)
                self.memory.refused.pop(connector.connector_id, None)
                return LimitOutcome(result=LimitResult.ACCEPTED, sent=True, purpose=purpose)
            if answer.reason != "no answer":
                self.memory.rejected_purposes.add(purpose)
            reasons.append(f"{purpose}: {answer.reason}")
        limit.accepted = False
        limit.rejection = "; ".join(reasons)
        limit.rejected_at = self.clock()
        self.memory.refused[connector.connector_id] = (limit_a, limit.requested_phases)
        _LOGGER.warning(
            "%s refused the limit for connector %s: %s",
            self.charge_point_id,
            connector.connector_id,
            limit.rejection,
        )
        self.emit(EventType.LIMIT_REJECTED, connector.connector_id, limit.rejection)
        return LimitOutcome(result=LimitResult.REJECTED, sent=True, reason=limit.rejection)

    def _record_accepted(self, limit: LimitState, profile: Profile, limit_a: float) -> None:
        limit.sent_a = limit_a
        limit.sent_phases = limit.requested_phases
        limit.purpose = profile.purpose
        limit.transaction_id = profile.transaction_id
        limit.sent_at = profile.start
        limit.valid_until = profile.valid_to
        limit.accepted = True
        limit.rejection = None
        limit.rejected_at = None

    def _not_controllable(self) -> LimitOutcome | None:
        if self.connection.closed:
            return LimitOutcome(result=LimitResult.NOT_CONNECTED, sent=False)
        if self.state.registration is not Registration.ACCEPTED:
            return LimitOutcome(
                result=LimitResult.REJECTED, sent=False, reason="charge point is not accepted"
            )
        return None

    async def apply_limit(self, connector_id: int, limit_a: float, phases: int) -> LimitOutcome:
        """Record the wish and send it when it changed enough or its lease needs renewing."""
        async with self._lock:
            if (refusal := self._not_controllable()) is not None:
                return refusal
            connector = self.state.connector(connector_id)
            limit = connector.limit
            limit.requested_a = value = floor_tenth(max(0.0, limit_a))
            limit.requested_phases = phases
            limit.requested_at = self.clock()
            try:
                if connector_id != 0:
                    await self._ensure_failsafe(force=False)
                return await self._send_limit(connector, value, force=False)
            except ConnectionClosedError:
                return LimitOutcome(result=LimitResult.NOT_CONNECTED, sent=False)

    async def clear_limit(self, connector_id: int) -> LimitOutcome:
        """Remove the dynamic limit: the charger falls back to its failsafe profile."""
        async with self._lock:
            if (refusal := self._not_controllable()) is not None:
                return refusal
            profile_id = (
                STATION_PROFILE_ID if connector_id == 0 else DYNAMIC_PROFILE_ID + connector_id
            )
            try:
                answer = await self._owned(self._protocol().clear_profile(profile_id), "OCPP clear")
            except ConnectionClosedError:
                return LimitOutcome(result=LimitResult.NOT_CONNECTED, sent=False)
            except (TimeoutError, OCPPError, UnknownCallErrorCodeError) as err:
                answer = Answer(accepted=False, reason=str(err) or type(err).__name__)
            if not answer.accepted:
                return LimitOutcome(result=LimitResult.REJECTED, sent=True, reason=answer.reason)
            self.state.connector(connector_id).limit = LimitState()
            self.memory.refused.pop(connector_id, None)
            return LimitOutcome(result=LimitResult.ACCEPTED, sent=True)
