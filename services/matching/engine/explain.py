"""Plain-words explanations of the engine's decisions, with the numbers."""

from __future__ import annotations

from services.matching.engine.model import Assignment, CandidateScore

_LABELS = {
    "travel": "travel time",
    "lateness": "lateness past the client's window",
    "reputation": "reputation (stars below 5; neutral with too few ratings)",
    "fairness": "share of the provider's own weekly target already worked",
    "supplement": "travel supplement paid by the operator to hold the fair-pay floor",
    "preference": "kept with the provider already chosen for this order",
}


def _euros(cents: int) -> str:
    return f"{cents / 100:.2f} €"


def explain_candidate(candidate: CandidateScore) -> str:
    """Describe one scored pair in plain words."""
    parts = [
        f"provider {candidate.provider_id}: score {candidate.cost:.1f} (lower is better), "
        f"{candidate.travel_min:.0f} min of travel, start at {candidate.start_at:%Y-%m-%d %H:%M} UTC, "
        f"net pay {_euros(candidate.net_hourly_cents)} an hour counting travel"
    ]
    if candidate.supplement_cents:
        parts.append(f"with a travel supplement of {_euros(candidate.supplement_cents)}")
    details = ", ".join(
        f"{_LABELS.get(name, name)} {value:+.1f}" for name, value in candidate.components.items() if value
    )
    if details:
        parts.append(f"made of: {details}")
    if candidate.note:
        parts.append(f"not chosen: {candidate.note}")
    return "; ".join(parts) + "."


def explain_assignment(assignment: Assignment) -> str:
    """Describe why an order went to its provider, and why the best alternatives did not get it."""
    lines = [
        f"Order {assignment.order_id} went to {explain_candidate(assignment.chosen())}",
        "The batch minimises the total score of all its assignments, one mission per provider; "
        "declining an offer never lowers a provider's score.",
    ]
    if assignment.alternatives:
        lines.append("Best alternatives:")
        lines += [f"- {explain_candidate(alt)}" for alt in assignment.alternatives]
    return "\n".join(lines)


def explain_for_provider(assignment: Assignment, provider_id: str) -> str:
    """Tell one provider why they got, or did not get, this mission."""
    if assignment.provider_id == provider_id:
        return (
            f"You got order {assignment.order_id} because your score for it was the best the "
            f"batch could give: {explain_candidate(assignment.chosen())}"
        )
    for alt in assignment.alternatives:
        if alt.provider_id == provider_id:
            gap = alt.cost - assignment.cost
            reason = alt.note or "another provider scored better"
            return (
                f"Order {assignment.order_id} went to another provider whose score was "
                f"{abs(gap):.1f} {'lower' if gap >= 0 else 'higher'} than yours ({reason}). "
                f"Yours: {explain_candidate(alt)}"
            )
    return (
        f"You were not among the closest matches for order {assignment.order_id} "
        "(category, distance, availability, or score); declines are never held against you."
    )

