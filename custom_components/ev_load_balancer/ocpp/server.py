"""The central system: a websocket server for charge points on its own port."""

import asyncio
from collections.abc import Mapping
import hmac
import logging

from aiohttp import BasicAuth, WSCloseCode, hdrs, web

from .connection import WebSocketConnection
from .models import (
    SUBPROTOCOLS,
    AuthorizeIdTag,
    CentralSystemSettings,
    ChargerConfig,
    ChargerConfigLookup,
    ChargerEvent,
    ChargerState,
    Clock,
    EventType,
    LimitOutcome,
    LimitResult,
    Listener,
    OcppVersion,
    Registration,
    UnknownChargerPolicy,
    utc_now,
)
from .protocol import ChargerProtocol, LibraryLog
from .session import ChargerMemory, ChargerSession
from .v16 import Ocpp16ChargePoint
from .v201 import Ocpp201ChargePoint

_LOGGER = logging.getLogger(__name__)
_FRAMES_LOGGER = logging.getLogger(f"{__package__}.frames")
_MAX_ID_LENGTH = 48
# Unknown ids are logged once each; a scanner must not grow this without bound.
_MAX_LOGGED_UNKNOWN = 100
# Time for websocket handlers to finish once their sockets are closed on stop().
_SHUTDOWN_TIMEOUT_S = 5.0


def _charge_point_id(path: str) -> str | None:
    """The last path segment, as OCPP-J puts the charge point id there."""
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return None
    cp_id = segments[-1]
    if len(cp_id) > _MAX_ID_LENGTH or not cp_id.isprintable() or ":" in cp_id:
        return None
    return cp_id


def _subprotocol(header: str | None) -> str | None:
    """The first of the charger's subprotocols we speak; chargers that send none get 1.6."""
    if header is None:
        return "ocpp1.6"
    offered = [item.strip() for item in header.split(",")]
    return next((item for item in offered if item in SUBPROTOCOLS), None)


def _password_matches(request: web.Request, cp_id: str, password: str) -> bool:
    """HTTP basic auth as OCPP security profiles 1 and 2 use it: the id is the user name."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return False
    try:
        auth = BasicAuth.decode(header)
    except ValueError:
        return False
    return hmac.compare_digest(auth.login.encode(), cp_id.encode()) & hmac.compare_digest(
        auth.password.encode(), password.encode()
    )


class _WebSocketResponse(web.WebSocketResponse):
    """aiohttp 3.14 re-arms its heartbeat timer when a charger answers our close frame.

    That leaves a timer behind every socket the server closes; a closed socket needs none.
    """

    def _reset_heartbeat(self) -> None:
        if not self.closed:
            super()._reset_heartbeat()


class _Charger:
    """A charge point the central system has seen in this run, connected or not."""

    def __init__(self, state: ChargerState) -> None:
        self.state = state
        self.memory = ChargerMemory()
        self.session: ChargerSession | None = None


class CentralSystem:
    """OCPP 1.6J and 2.0.1 central system running in the caller's event loop.

    See the package docstring for the contract.
    """

    def __init__(
        self,
        settings: CentralSystemSettings,
        *,
        charger_config: ChargerConfigLookup,
        listener: Listener | None = None,
        authorize: AuthorizeIdTag | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """Prepare the server; start() opens the port."""
        self._settings = settings
        self._charger_config = charger_config
        self._listener = listener
        self._authorize = authorize
        self._clock = clock
        self._chargers: dict[str, _Charger] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._logged_unknown: set[str] = set()
        self._log = LibraryLog(_FRAMES_LOGGER)

    @property
    def settings(self) -> CentralSystemSettings:
        """The settings the server runs with."""
        return self._settings

    @property
    def port(self) -> int | None:
        """The port bound (useful when settings ask for port 0), None when stopped."""
        return self._port

    @property
    def chargers(self) -> Mapping[str, ChargerState]:
        """Every charge point seen since start, by id, connected or not."""
        return {cp_id: charger.state for cp_id, charger in self._chargers.items()}

    async def start(self) -> None:
        """Open the port; raises OSError when it cannot be bound."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        app.on_shutdown.append(self._close_all)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        site = web.TCPSite(
            runner, self._settings.host, self._settings.port, ssl_context=self._settings.ssl_context
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        _LOGGER.debug("OCPP central system listening on port %s", self._port)

    async def stop(self) -> None:
        """Close every charger's socket and the port, and wait until they are gone."""
        if (runner := self._runner) is None:
            return
        self._runner = None
        self._port = None
        await runner.cleanup()

    async def _close_all(self, _: web.Application) -> None:
        sessions = [c.session for c in self._chargers.values() if c.session is not None]
        await asyncio.gather(*(s.close(WSCloseCode.GOING_AWAY, "") for s in sessions))

    async def disconnect(self, charge_point_id: str) -> None:
        """Close a charger's connection, for example when the user removed it."""
        charger = self._chargers.get(charge_point_id)
        if charger is not None and charger.session is not None:
            await charger.session.close(WSCloseCode.GOING_AWAY, "disconnected by Home Assistant")

    def forget(self, charge_point_id: str) -> None:
        """Drop what is known about a charger that is not connected."""
        charger = self._chargers.get(charge_point_id)
        if charger is not None and charger.session is None:
            del self._chargers[charge_point_id]

    async def apply_limit(
        self, charge_point_id: str, connector_id: int, limit_a: float, phases: int = 3
    ) -> LimitOutcome:
        """Limit a connector (connector 0: the whole charger) to `limit_a` per phase."""
        if phases not in (1, 2, 3):
            raise ValueError(f"phases must be 1, 2 or 3, not {phases}")
        charger = self._chargers.get(charge_point_id)
        if charger is None or charger.session is None:
            return LimitOutcome(result=LimitResult.NOT_CONNECTED, sent=False)
        return await charger.session.apply_limit(connector_id, limit_a, phases)

    async def clear_limit(self, charge_point_id: str, connector_id: int) -> LimitOutcome:
        """Remove a connector's dynamic limit; the charger falls back to its failsafe."""
        charger = self._chargers.get(charge_point_id)
        if charger is None or charger.session is None:
            return LimitOutcome(result=LimitResult.NOT_CONNECTED, sent=False)
        return await charger.session.clear_limit(connector_id)

    def _emit(self, event: ChargerEvent) -> None:
        if self._listener is None:
            return
        try:
            self._listener(event)
        except Exception:
            _LOGGER.exception("The OCPP listener failed on %s", event)

    def _admit(self, request: web.Request, cp_id: str) -> ChargerConfig | None:
        """Check the charger may connect; raises the HTTP error to answer when not."""
        config = self._charger_config(cp_id)
        if config is None:
            if self._settings.unknown_chargers is UnknownChargerPolicy.REJECT:
                if (
                    cp_id not in self._logged_unknown
                    and len(self._logged_unknown) < _MAX_LOGGED_UNKNOWN
                ):
                    self._logged_unknown.add(cp_id)
                    _LOGGER.warning("Refused unknown charge point %s", cp_id)
                raise web.HTTPNotFound
            return None
        if config.password is not None and not _password_matches(request, cp_id, config.password):
            _LOGGER.warning("Charge point %s failed HTTP basic authentication", cp_id)
            raise web.HTTPUnauthorized(headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="OCPP"'})
        return config

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        cp_id = _charge_point_id(request.match_info["path"])
        if cp_id is None:
            raise web.HTTPNotFound
        subprotocol = _subprotocol(request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL))
        if subprotocol is None:
            raise web.HTTPBadRequest(text="Supported subprotocols: ocpp1.6, ocpp2.0.1")
        config = self._admit(request, cp_id)
        settings = self._settings
        ws = _WebSocketResponse(
            protocols=(subprotocol,),
            max_msg_size=settings.max_frame_bytes,
            heartbeat=settings.ping_interval_s,
        )
        await ws.prepare(request)
        if self._runner is None:
            # stop() began while the handshake ran: this socket missed its close.
            await ws.close(code=WSCloseCode.GOING_AWAY)
            return ws

        charger = self._chargers.get(cp_id)
        if charger is None:
            charger = self._chargers[cp_id] = _Charger(
                ChargerState(charge_point_id=cp_id, registration=Registration.PENDING)
            )
        connection = WebSocketConnection(ws, cp_id)
        session = ChargerSession(
            state=charger.state,
            memory=charger.memory,
            connection=connection,
            settings=settings,
            charger_config=self._charger_config,
            authorize=self._authorize,
            clock=self._clock,
            emit=self._emit,
        )
        version = SUBPROTOCOLS[subprotocol]
        protocol: ChargerProtocol = (
            Ocpp16ChargePoint(session, connection, self._log)
            if version is OcppVersion.V16
            else Ocpp201ChargePoint(session, connection, self._log)
        )
        session.protocol = protocol
        previous, charger.session = charger.session, session
        state = charger.state
        state.registration = Registration.ACCEPTED if config else Registration.PENDING
        state.connected = True
        state.ocpp_version = version
        state.connected_at = state.last_seen = self._clock()
        _LOGGER.info("Charge point %s connected (OCPP %s)", cp_id, version)
        self._emit(ChargerEvent(type=EventType.CONNECTED, charge_point_id=cp_id))
        try:
            if previous is not None:
                # Chargers often reconnect before the old connection has timed out.
                await previous.close(WSCloseCode.GOING_AWAY, "replaced by a new connection")
            await session.run()
        finally:
            if charger.session is session:
                charger.session = None
                state.connected = False
                _LOGGER.info("Charge point %s disconnected", cp_id)
                self._emit(ChargerEvent(type=EventType.DISCONNECTED, charge_point_id=cp_id))
        return ws
