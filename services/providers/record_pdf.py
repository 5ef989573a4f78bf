"""The provider's record as a PDF (reportlab), deterministic so that its signature is stable."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas


def render_record_pdf(record: dict[str, Any], json_signature: str, key_id: str) -> bytes:
    """Render the record; the page also prints the signature of its JSON export."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(f"Coup de main record {record['provider']['id']}")
    width, height = A4
    y = height - 20 * mm

    def line(text: str, size: int = 10, indent: float = 0) -> None:
        nonlocal y
        if y < 20 * mm:
            canvas.showPage()
            y = height - 20 * mm
        canvas.setFont("Helvetica", size)
        canvas.drawString(20 * mm + indent, y, text[:110])
        y -= size * 1.6

    provider = record["provider"]
    line("Coup de main - provider record", 16)
    line(f"{provider['first_name']} {provider['last_name']} - SIRET {provider['siret']}", 12)
    line(f"Issued at {record['issued_at']} by the operator")
    line("Completed missions", 13)
    for category, figures in sorted(record["missions"]["by_category"].items()):
        line(f"{category}: {figures['count']} missions, {figures['hours']} hours", indent=10)
    line(f"Total: {record['missions']['total']}", indent=10)
    ratings = record["ratings"]
    line("Ratings", 13)
    line(f"Average {ratings['average']} over {ratings['count']} ratings", indent=10)
    line("Trainings", 13)
    for training in record["trainings"]:
        line(f"{training['title']} - {training['completed_at']} - score {training['score']}", indent=10)
    line("Checks", 13)
    for check in record["checks"]:
        expiry = f", expires {check['expires_at']}" if check["expires_at"] else ""
        line(f"{check['kind']}: {check['outcome']} on {check['checked_at']}{expiry}", indent=10)
    line("Verification", 13)
    line(f"Ed25519 key {key_id}; JSON export signature:", 8, indent=10)
    line(json_signature, 7, indent=10)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
