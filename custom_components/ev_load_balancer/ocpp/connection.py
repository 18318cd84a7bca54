"""The websocket seen the way the ocpp library wants it: recv() and send() of text frames."""

from collections.abc import Callable
import logging

from aiohttp import WSCloseCode, WSMsgType, web

_LOGGER = logging.getLogger(__name__)


class ConnectionClosedError(ConnectionError):
    """The charger's websocket is closed; nothing more can be received or sent."""


class TokenBucket:
    """Paces events to `rate` per second on average, letting bursts of `burst` through."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        """Start full."""
        self._rate = rate
        self._burst = float(burst)
        self._monotonic = monotonic
        self._tokens = float(burst)
        self._updated = monotonic()

    def delay(self, cost: float = 1.0) -> float:
        """Spend `cost` tokens; return how long to wait before the event may proceed."""
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= cost
        return max(0.0, -self._tokens / self._rate)


class WebSocketConnection:
    """Adapts an aiohttp WebSocketResponse to the connection the ocpp library expects."""

    def __init__(self, ws: web.WebSocketResponse, name: str) -> None:
        """Wrap a prepared websocket."""
        self._ws = ws
        self._name = name
        self.close_reason: str | None = None

    @property
    def closed(self) -> bool:
        """Whether the socket is closed or closing."""
        return self._ws.closed

    async def recv(self) -> str:
        """Return the next text frame."""
        msg = await self._ws.receive()
        if msg.type is WSMsgType.TEXT:
            return str(msg.data)
        if msg.type is WSMsgType.BINARY:
            await self.close(WSCloseCode.UNSUPPORTED_DATA, "binary frames are not OCPP-J")
        elif msg.type is WSMsgType.ERROR:
            # aiohttp has already closed the socket, with 1009 for an oversized frame.
            self.close_reason = self.close_reason or str(msg.data)
            _LOGGER.warning("Closed the connection of %s: %s", self._name, msg.data)
        raise ConnectionClosedError(self.close_reason or "closed by the charger")

    async def send(self, message: str) -> None:
        """Send a text frame."""
        if self._ws.closed:
            raise ConnectionClosedError(self.close_reason or "closed")
        try:
            await self._ws.send_str(message)
        except ConnectionResetError as err:
            raise ConnectionClosedError(self.close_reason or "closed") from err

    async def close(self, code: int = WSCloseCode.GOING_AWAY, reason: str = "") -> None:
        """Close the socket; the first reason given is kept for the log."""
        if self.close_reason is None and reason:
            self.close_reason = reason
            _LOGGER.log(
                logging.INFO if code == WSCloseCode.GOING_AWAY else logging.WARNING,
                "Closing the connection of %s: %s",
                self._name,
                reason,
            )
        await self._ws.close(code=code, message=reason.encode())
