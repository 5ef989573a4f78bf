"""The provider's signed record: JSON and PDF, public key, verification."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.providers.config import ProvidersSettings
from services.providers.signing import canonical_json
from tests.providers.unit.conftest import Harness
from tests.providers.unit.events import deliver, mission_completed, rating


async def test_json_record_signed_and_verifiable(h: Harness) -> None:
    await h.activate("p1")
    await deliver(h.bus, mission_completed("p1", "m1", h.clock.now, worked_min=90))
    await deliver(h.bus, rating("p1", "r1", 5))
    me = h.tokens.provider("p1")
    exported = (await h.http.get("/v1/providers/p1/record", headers=me)).json()
    record = exported["record"]
    assert record["missions"]["by_category"] == {"cleaning": {"count": 1, "hours": 1.5}}
    assert record["ratings"]["average"] == 5.0
    assert {c["kind"] for c in record["checks"]} == {"identity", "right_to_work", "siret", "insurance"}
    # anyone can verify with the published key, offline...
    key = (await h.http.get("/v1/providers/records/public-key")).json()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key_b64"]))
    public.verify(base64.b64decode(exported["signature"]), canonical_json(record))
    assert key["key_id"] == exported["key_id"]
    # ...or through the verification endpoint, without a token
    ok = await h.http.post(
        "/v1/providers/records/verify", json={"record": record, "signature": exported["signature"]}
    )
    assert ok.json()["is_valid"] is True
    record["ratings"]["average"] = 1.0
    tampered = await h.http.post(
        "/v1/providers/records/verify", json={"record": record, "signature": exported["signature"]}
    )
    assert tampered.json()["is_valid"] is False


async def test_pdf_record_signed(h: Harness) -> None:
    await h.activate("p1")
    response = await h.http.get("/v1/providers/p1/record.pdf", headers=h.tokens.provider("p1"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    body: dict[str, Any] = {
        "document_b64": base64.b64encode(pdf).decode(),
        "signature": response.headers["x-signature"],
    }
    assert (await h.http.post("/v1/providers/records/verify", json=body)).json()["is_valid"] is True
    middle = len(pdf) // 2
    altered = pdf[:middle] + bytes([pdf[middle] ^ 1]) + pdf[middle + 1 :]
    body["document_b64"] = base64.b64encode(altered).decode()
    assert (await h.http.post("/v1/providers/records/verify", json=body)).json()["is_valid"] is False


async def test_verify_refuses_garbage(h: Harness) -> None:
    cases = [
        {"signature": "x"},
        {"signature": "x", "record": {}, "document_b64": "AA=="},
        {"signature": "x", "document_b64": "not base64!"},
    ]
    for body in cases:
        assert (await h.http.post("/v1/providers/records/verify", json=body)).status_code == 422, body
    bad_sig = await h.http.post("/v1/providers/records/verify", json={"signature": "@@@", "record": {"a": 1}})
    assert bad_sig.json()["is_valid"] is False


async def test_key_generated_once_into_var(h: Harness, tmp_path: Any) -> None:
    key_file = tmp_path / "providers-signing-key.pem"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
    first = (await h.http.get("/v1/providers/records/public-key")).json()["key_id"]
    from services.providers.signing import RecordSigner

    assert RecordSigner.load_or_create(key_file).key_id == first


async def test_key_from_settings(make_harness: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    async with make_harness(ProvidersSettings(signing_key_pem=pem)) as h:
        published = (await h.http.get("/v1/providers/records/public-key")).json()
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert published["public_key_b64"] == base64.b64encode(raw).decode()
