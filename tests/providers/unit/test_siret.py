"""Offline SIREN/SIRET validation: digits, length, Luhn and the La Poste exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.providers.siret import (
    luhn_ok,
    siren_error,
    siret_error,
    validate_siret,
    vat_number,
)
from shared.errors import Invalid

VALID_SIRET = "73282932000074"  # a real, Luhn-valid establishment


def with_check_digit(prefix: str) -> str:
    """Complete a digit string with the digit that makes it Luhn-valid."""
    for digit in "0123456789":
        if luhn_ok(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable")


class TestSiren:
    def test_accepts_valid_siren(self) -> None:
        assert siren_error("732829320") is None

    def test_refuses_wrong_length(self) -> None:
        assert siren_error("73282932") == "SIREN must be 9 digits (got 8)"

    def test_refuses_letters(self) -> None:
        assert siren_error("73282932A") == "SIREN must contain digits only"

    def test_refuses_bad_check_digit(self) -> None:
        assert "Luhn" in (siren_error("732829321") or "")


class TestSiret:
    def test_accepts_valid_siret_with_spaces(self) -> None:
        assert validate_siret("732 829 320 00074") == VALID_SIRET

    def test_refuses_13_digits(self) -> None:
        assert siret_error("7328293200007") == "SIRET must be 14 digits (got 13)"

    def test_refuses_non_digits(self) -> None:
        assert siret_error("7328293200007X") == "SIRET must contain digits only"

    def test_refuses_unicode_digits(self) -> None:
        assert siret_error("٧٣٢٨٢٩٣٢٠٠٠٠٧٤") == "SIRET must contain digits only"

    def test_refuses_bad_luhn(self) -> None:
        assert siret_error("73282932000075") == "SIRET checksum is wrong (Luhn over the 14 digits fails)"

    def test_names_bad_siren_inside(self) -> None:
        problem = siret_error("73282932100074") or ""
        assert problem.startswith("SIRET starts with an invalid SIREN 732829321")

    def test_la_poste_valid_when_digit_sum_multiple_of_5(self) -> None:
        siret = "35600000000010"  # digit sum 15, fails Luhn
        assert not luhn_ok(siret)
        assert siret_error(siret) is None

    def test_la_poste_invalid_when_digit_sum_not_multiple_of_5(self) -> None:
        problem = siret_error("35600000000048") or ""  # passes Luhn, digit sum 26
        assert luhn_ok("35600000000048")
        assert "La Poste" in problem

    def test_validate_raises_invalid_naming_field(self) -> None:
        with pytest.raises(Invalid) as caught:
            validate_siret("123", field="siret")
        assert caught.value.loc == ["body", "siret"]
        assert caught.value.status_code == 422

    @given(st.text(alphabet="0123456789", min_size=13, max_size=13))
    def test_any_13_digits_completed_by_luhn_is_valid_unless_la_poste(self, prefix: str) -> None:
        siret = with_check_digit(prefix)
        siren_ok = siren_error(siret[:9]) is None
        if siret[:9] != "356000000" and siren_ok:
            assert siret_error(siret) is None

    @given(st.text(min_size=0, max_size=30))
    def test_never_crashes(self, raw: str) -> None:
        siret_error(raw)
        siren_error(raw)


def test_vat_number() -> None:
    assert vat_number("732829320") == "FR44732829320"
