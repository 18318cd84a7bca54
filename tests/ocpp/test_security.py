"""Who may connect: basic auth (security profile 1), TLS (profile 2), unknown charge points."""

from datetime import UTC, datetime, timedelta
import ipaddress
from pathlib import Path
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from homeassistant.core import HomeAssistant
from ocpp.exceptions import SecurityError
from ocpp.v16 import call
import pytest
from websockets.exceptions import InvalidStatus

from custom_components.ev_load_balancer.ocpp import (
    ChargerConfig,
    EventType,
    LimitResult,
    Registration,
    UnknownChargerPolicy,
)

from .conftest import Harness

PASSWORD = "0123456789abcdef0123"
WRONG_PASSWORD = "wrong-password-000000"


@pytest.mark.parametrize(
    ("user", "password"),
    [
        (None, None),
        (None, WRONG_PASSWORD),
        ("OTHER", PASSWORD),
    ],
    ids=["no credentials", "wrong password", "wrong user"],
)
async def test_basic_auth_failure(harness: Harness, user: str | None, password: str | None) -> None:
    harness.configs["CP1"] = ChargerConfig(password=PASSWORD)
    await harness.start()

    with pytest.raises(InvalidStatus) as err:
        await harness.open("CP1", password=password, user=user)

    assert err.value.response.status_code == 401
    assert harness.events == []


async def test_basic_auth_success(harness: Harness) -> None:
    harness.configs["CP1"] = ChargerConfig(password=PASSWORD)
    await harness.start()

    charger = await harness.charger16("CP1", password=PASSWORD)
    result = await charger.boot()

    assert result.status == "Accepted"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _tls_contexts(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert_path, key_path = _self_signed(directory)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


async def test_tls_with_basic_auth(hass: HomeAssistant, harness: Harness, tmp_path: Path) -> None:
    server_context, client_context = await hass.async_add_executor_job(_tls_contexts, tmp_path)
    harness.configs["CP1"] = ChargerConfig(password=PASSWORD)
    harness.ssl_client = client_context
    await harness.start(ssl_context=server_context)

    charger = await harness.charger16("CP1", password=PASSWORD)
    result = await charger.boot()
    await harness.until(lambda: harness.state("CP1").failsafe.accepted)

    assert harness.url("CP1").startswith("wss://")
    assert result.status == "Accepted"
    with pytest.raises(InvalidStatus):
        await harness.open("CP1", password=WRONG_PASSWORD)


async def test_unknown_charger_rejected(harness: Harness) -> None:
    await harness.start(unknown_chargers=UnknownChargerPolicy.REJECT)

    with pytest.raises(InvalidStatus) as err:
        await harness.open("STRANGER")

    assert err.value.response.status_code == 404
    assert harness.central is not None
    assert "STRANGER" not in harness.central.chargers


async def test_unknown_charger_held_pending_until_accepted(harness: Harness) -> None:
    await harness.start(unknown_chargers=UnknownChargerPolicy.PENDING)
    assert harness.central is not None
    charger = await harness.charger16("NEW1")

    boot = await charger.boot()
    with pytest.raises(SecurityError):
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available"),
            suppress=False,
        )
    outcome = await harness.central.apply_limit("NEW1", 1, 16.0)

    assert boot.status == "Pending"
    state = harness.state("NEW1")
    assert state.registration is Registration.PENDING
    assert (state.vendor, state.model) == ("Sim", "Sim16")
    assert harness.events[-1].type is EventType.PENDING
    assert outcome.result is LimitResult.REJECTED
    # Never controlled: nothing was sent to it.
    assert charger.sim.requests == []

    # The user accepts it; the charger boots again after the Pending interval.
    harness.configs["NEW1"] = ChargerConfig()
    accepted = await charger.boot()
    await harness.until(lambda: state.failsafe.accepted)

    assert accepted.status == "Accepted"
    assert state.registration is Registration.ACCEPTED
    assert "SetChargingProfile" in charger.sim.requests


async def test_unsupported_subprotocol_refused(harness: Harness) -> None:
    harness.configs["CP1"] = ChargerConfig()
    await harness.start()

    with pytest.raises(InvalidStatus) as err:
        await harness.open("CP1", subprotocol="ocpp1.5")

    assert err.value.response.status_code == 400
