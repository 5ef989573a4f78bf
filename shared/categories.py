"""The service categories the operator sells, shared by every service.

Household-services facts (tax credit eligibility and sub-ceilings) come from
DOMAIN.md; the figures are defaults the pricing settings may override.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    is_household_service: bool  # eligible to the household-services tax credit
    annual_ceiling_cents: int | None = None  # sub-ceiling of the tax credit, if any
    max_visit_min: int | None = None  # longest eligible visit, if limited


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("cleaning", "Housework and cleaning", True),
        Category("gardening", "Small gardening", True, annual_ceiling_cents=500_000),
        Category("handyman", "Small handyman jobs", True, annual_ceiling_cents=50_000, max_visit_min=120),
        Category("tutoring", "Tutoring at home", True),
        Category("childcare", "Childcare (over 3)", True),
        Category("it_help", "IT help at home", True, annual_ceiling_cents=300_000),
        Category("moving_help", "Moving help", False),
        Category("transport", "Transport of people", False),
    )
}


def is_known_category(code: str) -> bool:
    return code in CATEGORIES
