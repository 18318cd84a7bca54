"""What the version-neutral session needs from the OCPP 1.6 and 2.0.1 implementations."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import sys
from typing import Any, Protocol

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on

from .models import ProfilePurpose


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """A single-period charging profile, in terms both versions can express."""

    profile_id: int
    connector_id: int
    purpose: ProfilePurpose
    stack_level: int
    limit: float
    # "A" or "W".
    unit: str
    # None: let the charger assume its own number of phases.
    phases: int | None
    start: datetime
    # None: no expiry.
    valid_to: datetime | None
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The charger's answer to a request that can be accepted or refused."""

    accepted: bool
    reason: str | None = None


class ChargerProtocol(Protocol):
    """Requests the central system sends, implemented once per OCPP version."""

    async def route_message(self, raw_msg: str) -> None:
        """Handle one frame received from the charger."""

    async def read_capabilities(self) -> None:
        """Read the charger's configuration into its state's capabilities."""

    async def configure_sampling(self) -> None:
        """Ask for the measurands and interval the balancer needs, where they differ."""

    async def set_profile(self, profile: Profile) -> Answer:
        """Send a charging profile."""

    async def clear_profile(self, profile_id: int) -> Answer:
        """Remove a charging profile by id."""


def handles[F: Callable[..., Any]](action: str) -> Callable[[F], F]:
    """Mark a method as the handler of a charger-initiated action (typed `ocpp.routing.on`)."""
    decorator: Callable[[F], F] = on(action)
    return decorator


def answered[F: Callable[..., Any]](action: str) -> Callable[[F], F]:
    """Mark a method to run once the answer to an action was sent (typed `ocpp.routing.after`).

    The method must not return an awaitable: the library would run it as an untracked task.
    """
    decorator: Callable[[F], F] = after(action)
    return decorator


def ocpp_datetime(value: datetime) -> str:
    """Format a timestamp the way chargers parse best: UTC, seconds, a Z suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object) -> datetime | None:
    """Parse a charger's timestamp; None when it is missing or malformed."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def text(payload: Mapping[str, Any], key: str) -> str | None:
    """Return a string field of a payload, or None."""
    value = payload.get(key)
    return value if isinstance(value, str) else None


class LibraryLog(logging.LoggerAdapter[logging.Logger]):
    """Logger for the ocpp library, quieter than the library would be.

    The library logs every frame at info and a charger's bad frames with a traceback: one
    misbehaving charger would flood Home Assistant's log. Frames and charger mistakes go to
    debug; errors in our own handlers keep their traceback.
    """

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at debug."""
        self.debug(msg, *args, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at debug: the library warns about CallErrors the session reports itself."""
        self.debug(msg, *args, **kwargs)

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at debug: the library's errors are late or stray answers from the charger."""
        self.debug(msg, *args, **kwargs)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log charger mistakes at debug and our own failures with their traceback."""
        if isinstance(sys.exception(), OCPPError):
            self.debug(msg, *args)
        else:
            super().exception(msg, *args, **kwargs)
