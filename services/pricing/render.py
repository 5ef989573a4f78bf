"""Files people open: grids as CSV (spreadsheets), statements as CSV and PDF."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.pricing.domain.grid import SURCHARGES
from shared.errors import Invalid

GRID_COLUMNS = (
    "category",
    "zone",
    "hourly_rate_cents",
    "min_billable_min",
    "travel_fee_cents",
    "commission_rate",
    "avg_travel_min",
    *(f"surcharge_{s}" for s in SURCHARGES),
)


def grid_to_csv(cells: Sequence[Mapping[str, Any]]) -> str:
    """Return a grid's cells as CSV, one row per cell, surcharges as columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GRID_COLUMNS)
    for cell in cells:
        surcharges = cell.get("surcharges", {})
        writer.writerow([cell[c] for c in GRID_COLUMNS[:7]] + [surcharges.get(s, "0") for s in SURCHARGES])
    return out.getvalue()


def grid_from_csv(text: str) -> list[dict[str, Any]]:
    """Parse CSV exported by `grid_to_csv` (or edited in a spreadsheet) into plain cells."""
    try:
        return _cells_from_csv(text)
    except csv.Error as exc:
        raise Invalid(f"unreadable CSV: {exc}", field="body") from exc


def _cells_from_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None:
        raise Invalid("the CSV is empty", field="cells")
    missing = [c for c in GRID_COLUMNS[:5] if c not in reader.fieldnames]
    if missing:
        raise Invalid(f"CSV columns missing: {', '.join(missing)}", field="cells")
    cells: list[dict[str, Any]] = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        cell: dict[str, Any] = {
            c: (row.get(c) or "").strip() for c in GRID_COLUMNS[:7] if row.get(c) not in (None, "")
        }
        cell["surcharges"] = {s: (row.get(f"surcharge_{s}") or "0").strip() or "0" for s in SURCHARGES}
        cells.append(cell)
    return cells


def _euros(cents: int) -> str:
    return f"{cents / 100:,.2f} €".replace(",", " ")


def monthly_to_csv(statement: Mapping[str, Any]) -> str:
    """Return a monthly statement as CSV: its lines, then its totals."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["provider_id", statement["provider_id"], "period", statement["period"]])
    w.writerow(
        [
            "date",
            "kind",
            "description",
            "order_id",
            "mission_id",
            "gross_cents",
            "commission_cents",
            "amount_cents",
            "contributions_cents",
        ]
    )
    for e in statement["entries"]:
        w.writerow(
            [
                e["date"],
                e["kind"],
                e["description"],
                e["order_id"] or "",
                e["mission_id"] or "",
                e["gross_cents"],
                e["commission_cents"],
                e["amount_cents"],
                e["contributions_cents"],
            ]
        )
    _totals_rows(w, statement)
    return out.getvalue()


def annual_to_csv(statement: Mapping[str, Any]) -> str:
    """Return an annual statement as CSV: DAC7 figures, quarters, months, obligations."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["provider_id", statement["provider_id"], "year", statement["year"]])
    dac7 = statement["dac7"]
    w.writerow(["dac7_consideration_cents", dac7["consideration_cents"]])
    w.writerow(["dac7_fees_cents", dac7["fees_cents"]])
    w.writerow(["dac7_activities", dac7["activities"]])
    w.writerow(["quarter", "consideration_cents", "fees_cents", "activities"])
    for q in dac7["quarters"]:
        w.writerow([q["quarter"], q["consideration_cents"], q["fees_cents"], q["activities"]])
    w.writerow(
        ["period", "payout_cents", "gross_cents", "commission_cents", "missions", "contributions_cents"]
    )
    for m in statement["months"]:
        w.writerow(
            [
                m["period"],
                m["payout_cents"],
                m["gross_cents"],
                m["commission_cents"],
                m["missions"],
                m["contributions_cents"],
            ]
        )
    _totals_rows(w, statement)
    return out.getvalue()


def _totals_rows(w: Any, statement: Mapping[str, Any]) -> None:
    t = statement["totals"]
    for key in (
        "payout_cents",
        "gross_cents",
        "commission_cents",
        "missions",
        "contributions_cents",
        "net_after_contributions_cents",
    ):
        w.writerow([f"total_{key}", t[key]])
    for kind, cents in t["by_kind"].items():
        w.writerow([f"total_{kind}_cents", cents])
    for key, value in statement["obligations"].items():
        w.writerow([f"obligation_{key}", value])


def statement_to_pdf(statement: Mapping[str, Any]) -> bytes:
    """Return a statement as a readable A4 PDF."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="Coup de main — earnings statement",
    )
    styles = getSampleStyleSheet()
    story: list[Any] = []
    if statement["kind"] == "monthly":
        title = f"Monthly earnings statement — {statement['period']}"
    else:
        title = f"Annual income statement {statement['year']} (DAC7)"
    story.append(Paragraph(f"Coup de main — {title}", styles["Title"]))
    story.append(Paragraph(f"Provider: {statement['provider_id']}", styles["Normal"]))
    story.append(Spacer(1, 6 * mm))
    t = statement["totals"]
    summary = [
        ["Paid to you (missions, fees, bonuses, supplements)", _euros(t["payout_cents"])],
        ["Billed to clients for your missions", _euros(t["gross_cents"])],
        ["Platform commission", _euros(t["commission_cents"])],
        ["Missions", str(t["missions"])],
        [
            f"Micro-entrepreneur contributions at {float(statement['contribution_rate']) * 100:.1f} %",
            _euros(t["contributions_cents"]),
        ],
        ["Left after contributions", _euros(t["net_after_contributions_cents"])],
    ]
    story.append(_table([["Summary", ""], *summary]))
    story.append(Spacer(1, 6 * mm))
    if statement["kind"] == "monthly":
        rows = [["Date", "Kind", "Description", "Amount"]]
        rows += [
            [e["date"], e["kind"], Paragraph(e["description"], styles["BodyText"]), _euros(e["amount_cents"])]
            for e in statement["entries"]
        ]
        if len(rows) == 1:
            rows.append(["—", "", "no lines this month", ""])
        story.append(_table(rows, widths=[25 * mm, 30 * mm, 85 * mm, 30 * mm]))
    else:
        dac7 = statement["dac7"]
        rows = [["Quarter", "Consideration", "Fees", "Activities"]]
        rows += [
            [
                f"Q{q['quarter']}",
                _euros(q["consideration_cents"]),
                _euros(q["fees_cents"]),
                str(q["activities"]),
            ]
            for q in dac7["quarters"]
        ]
        rows.append(
            ["Year", _euros(dac7["consideration_cents"]), _euros(dac7["fees_cents"]), str(dac7["activities"])]
        )
        story.append(Paragraph("Figures reported to the tax authority (EU DAC7)", styles["Heading3"]))
        story.append(_table(rows))
    story.append(Spacer(1, 6 * mm))
    o = statement["obligations"]
    story.append(Paragraph("The operator's obligations to you (Code du travail L7342-1)", styles["Heading3"]))
    if o["threshold_reached"]:
        text = (
            f"Your earnings this year ({_euros(o['earnings_cents'])}) have passed the threshold of "
            f"{_euros(o['threshold_cents'])}: the operator reimburses your accident insurance "
            f"({_euros(o['accident_insurance_reimbursement_cents'])}) and pays your training "
            f"contribution ({_euros(o['training_contribution_cents'])})."
        )
    else:
        text = (
            f"Your earnings this year ({_euros(o['earnings_cents'])}) are below the threshold of "
            f"{_euros(o['threshold_cents'])} past which the operator reimburses your accident "
            "insurance and pays your training contribution."
        )
    story.append(Paragraph(text, styles["BodyText"]))
    doc.build(story)
    return buffer.getvalue()


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table
