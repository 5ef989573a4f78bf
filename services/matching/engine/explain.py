"""Plain-words explanations of the engine's decisions, with the numbers."""

from __future__ import annotations

from services.matching.engine.model import Assignment, CandidateScore


def explain_candidate(candidate: CandidateScore) -> str:
    """Describe one scored pair in plain words."""
    raise NotImplementedError


def explain_assignment(assignment: Assignment) -> str:
    """Describe why an order went to its provider, and why the best alternatives did not get it."""
    raise NotImplementedError


def explain_for_provider(assignment: Assignment, provider_id: str) -> str:
    """Tell one provider why they got, or did not get, this mission."""
    raise NotImplementedError
