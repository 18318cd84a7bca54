"""Constants for the EV Load Balancer integration."""

from typing import Final

DOMAIN: Final = "ev_load_balancer"
DEFAULT_OCPP_PORT: Final = 9000
