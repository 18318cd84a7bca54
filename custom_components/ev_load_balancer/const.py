"""Constants for the EV Load Balancer integration."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "ev_load_balancer"
LOGGER = logging.getLogger(__package__)

DEFAULT_OCPP_PORT: Final = 9000
DEFAULT_VOLTAGE_V: Final = 230
DEFAULT_FUSE_A: Final = 25
DEFAULT_MARGIN_A: Final = 2.0
DEFAULT_FAILSAFE_A: Final = 6.0
DEFAULT_MODBUS_PORT: Final = 502
DEFAULT_MODBUS_UNIT_ID: Final = 1
DEFAULT_BAUDRATE: Final = 9600

# Site (config entry data)
CONF_GRID: Final = "grid"
CONF_PHASES: Final = "phases"
CONF_VOLTAGE: Final = "voltage_v"
CONF_FUSE: Final = "fuse_a"
CONF_MARGIN: Final = "margin_a"
CONF_RESERVE: Final = "reserve_a"
CONF_FAILSAFE: Final = "failsafe_a"
CONF_OCPP_PORT: Final = "ocpp_port"
CONF_CERTFILE: Final = "certfile"
CONF_KEYFILE: Final = "keyfile"
CONF_UNKNOWN_CHARGERS: Final = "unknown_chargers"
CONF_METER: Final = "meter"

# A meter (the site's, nested under CONF_METER, or a meter subentry's data)
CONF_METER_TYPE: Final = "meter_type"
CONF_FRAMING: Final = "framing"
CONF_DEVICE: Final = "device"
CONF_BAUDRATE: Final = "baudrate"
CONF_UNIT_ID: Final = "unit_id"
CONF_MODEL: Final = "model"
CONF_CURRENT_ENTITIES: Final = "current_entities"
CONF_POWER_ENTITIES: Final = "power_entities"
CONF_VOLTAGE_ENTITIES: Final = "voltage_entities"
CONF_INCLUDES_CHARGERS: Final = "includes_chargers"

# Subentries
SUBENTRY_CHARGER: Final = "charger"
SUBENTRY_GROUP: Final = "group"
SUBENTRY_METER: Final = "meter"
CONF_CHARGE_POINT_ID: Final = "charge_point_id"
CONF_CONNECTOR_ID: Final = "connector_id"
CONF_GROUP: Final = "group"
CONF_PARENT: Final = "parent"
CONF_WIRING: Final = "wiring"
CONF_MIN_CURRENT: Final = "min_a"
CONF_MAX_CURRENT: Final = "max_a"
CONF_PRIORITY: Final = "priority"
CONF_LIMIT: Final = "limit_a"
CONF_METER_ID: Final = "meter_id"

# Options: tuning of the balancing loop
CONF_SETTLE: Final = "settle_s"
CONF_METER_TIMEOUT: Final = "meter_timeout_s"
CONF_ROTATION_MINUTES: Final = "rotation_minutes"
CONF_MAX_CHANGES: Final = "max_changes_per_hour"

SITE: Final = "site"
"""The group id of the site itself (the root of the group tree)."""


class Grid(StrEnum):
    """Earthing system of the site."""

    TN = "TN"
    IT = "IT"


class UnknownChargers(StrEnum):
    """What to do with a charge point whose id no charger subentry names."""

    PENDING = "pending"
    REJECT = "reject"


class MeterType(StrEnum):
    """Where a node's measurement comes from."""

    MODBUS = "modbus"
    SENSORS = "sensors"
    CHARGERS = "chargers"


class Framing(StrEnum):
    """How a Modbus meter is reached."""

    TCP = "tcp"
    RTU_OVER_TCP = "rtu_over_tcp"
    SERIAL = "serial"
