"""Meter sources built from the site's and the meter subentries' configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import SelectOptionDict

from .const import (
    CONF_BAUDRATE,
    CONF_CURRENT_ENTITIES,
    CONF_DEVICE,
    CONF_FRAMING,
    CONF_METER_TYPE,
    CONF_MODEL,
    CONF_POWER_ENTITIES,
    CONF_UNIT_ID,
    CONF_VOLTAGE_ENTITIES,
    DEFAULT_BAUDRATE,
    DEFAULT_MODBUS_PORT,
    Framing,
    MeterType,
)
from .meters import (
    REGISTER_MAPS,
    MeterModel,
    MeterSource,
    ModbusGatewayPool,
    ModbusLink,
    ModbusMeter,
    ModbusTransport,
    test_connection,
)
from .meters.ha_sensor import HomeAssistantSensorMeter

_TRANSPORTS = {
    Framing.TCP: ModbusTransport.TCP,
    Framing.RTU_OVER_TCP: ModbusTransport.RTU_OVER_TCP,
    Framing.SERIAL: ModbusTransport.SERIAL,
}


def modbus_model_options() -> list[SelectOptionDict]:
    """The supported Modbus meter models, for a selector."""
    return [
        SelectOptionDict(value=model.value, label=REGISTER_MAPS[model].name) for model in MeterModel
    ]


def modbus_link(data: Mapping[str, Any]) -> ModbusLink:
    """The bus a Modbus meter is reached through."""
    framing = Framing(data[CONF_FRAMING])
    if framing is Framing.SERIAL:
        return ModbusLink(
            transport=ModbusTransport.SERIAL,
            serial_port=data[CONF_DEVICE],
            baudrate=int(data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
        )
    return ModbusLink(
        transport=_TRANSPORTS[framing],
        host=data[CONF_HOST],
        port=int(data.get(CONF_PORT, DEFAULT_MODBUS_PORT)),
    )


async def async_check_modbus_meter(data: Mapping[str, Any]) -> None:
    """Read a Modbus meter once; raises `MeterError` with a `reason` the flow shows."""
    await test_connection(
        modbus_link(data), unit_id=int(data[CONF_UNIT_ID]), model=MeterModel(data[CONF_MODEL])
    )


def create_meter(
    hass: HomeAssistant,
    meter_id: str,
    data: Mapping[str, Any],
    pool: ModbusGatewayPool,
    timeout_s: float,
) -> MeterSource | None:
    """The source for a meter's configuration; None where the chargers measure the node."""
    match MeterType(data[CONF_METER_TYPE]):
        case MeterType.MODBUS:
            return ModbusMeter(
                meter_id,
                link=modbus_link(data),
                unit_id=int(data[CONF_UNIT_ID]),
                model=MeterModel(data[CONF_MODEL]),
                pool=pool,
                timeout_s=timeout_s,
            )
        case MeterType.SENSORS:
            if data.get(CONF_CURRENT_ENTITIES):
                return HomeAssistantSensorMeter(
                    hass,
                    meter_id,
                    current_entity_ids=list(data[CONF_CURRENT_ENTITIES]),
                    timeout_s=timeout_s,
                )
            return HomeAssistantSensorMeter(
                hass,
                meter_id,
                power_entity_ids=list(data[CONF_POWER_ENTITIES]),
                voltage_entity_ids=list(data[CONF_VOLTAGE_ENTITIES]),
                timeout_s=timeout_s,
            )
        case MeterType.CHARGERS:
            return None
