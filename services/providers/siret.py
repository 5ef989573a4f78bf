"""Offline validation of French company identifiers (SIREN, SIRET, intra-EU VAT number).

Rules from INSEE (see DOMAIN.md): a SIREN is 9 digits with a Luhn check digit;
a SIRET is the SIREN plus a 5-digit establishment number, Luhn over all 14
digits, except La Poste (SIREN 356000000) whose establishments are valid when
the sum of the 14 digits is a multiple of 5.
"""

from __future__ import annotations

from shared.errors import Invalid

LA_POSTE_SIREN = "356000000"


def luhn_ok(digits: str) -> bool:
    """Return whether a digit string passes the Luhn checksum."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def normalise(raw: str) -> str:
    """Drop the spaces and dots people type inside identifiers."""
    return raw.replace(" ", "").replace(".", "").replace("\u00a0", "")


def siren_error(raw: str) -> str | None:
    """Return why a SIREN is invalid, or None when it is valid."""
    value = normalise(raw)
    if not value.isdigit() or not value.isascii():
        return "SIREN must contain digits only"
    if len(value) != 9:
        return f"SIREN must be 9 digits (got {len(value)})"
    if not luhn_ok(value):
        return "SIREN check digit is wrong (Luhn checksum fails)"
    return None


def siret_error(raw: str) -> str | None:
    """Return why a SIRET is invalid, or None when it is valid."""
    value = normalise(raw)
    if not value.isdigit() or not value.isascii():
        return "SIRET must contain digits only"
    if len(value) != 14:
        return f"SIRET must be 14 digits (got {len(value)})"
    siren = value[:9]
    problem = siren_error(siren)
    if problem is not None:
        return f"SIRET starts with an invalid SIREN {siren}: {problem}"
    if siren == LA_POSTE_SIREN:
        if sum(int(c) for c in value) % 5 != 0:
            return "La Poste SIRET is invalid: the sum of its 14 digits must be a multiple of 5"
        return None
    if not luhn_ok(value):
        return "SIRET checksum is wrong (Luhn over the 14 digits fails)"
    return None


def validate_siret(raw: str, field: str = "siret") -> str:
    """Return the normalised SIRET or raise Invalid naming the field and the reason."""
    problem = siret_error(raw)
    if problem is not None:
        raise Invalid(problem, field=field)
    return normalise(raw)


def vat_number(siren: str) -> str:
    """Return the French intra-EU VAT number of a valid SIREN."""
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"
