from __future__ import annotations

import pytest

from services.pricing.domain.zones import (
    Zone,
    check_no_overlap,
    normalise_entries,
    resolve_postcode,
)
from shared.errors import Conflict, Invalid

PARIS = Zone("paris", "Paris", ("75",))
PARIS_11 = Zone("paris-11", "Paris 11e", ("75011",))
LYON = Zone("lyon", "Lyon", ("69001", "69002"))


class TestResolvePostcode:
    def test_longest_prefix_wins(self) -> None:
        assert resolve_postcode("75011", [PARIS, PARIS_11, LYON]) == PARIS_11
        assert resolve_postcode("75012", [PARIS, PARIS_11, LYON]) == PARIS

    def test_order_of_zones_does_not_matter(self) -> None:
        assert resolve_postcode("75011", [PARIS_11, PARIS]) == PARIS_11

    def test_unserved_postcode_is_none(self) -> None:
        assert resolve_postcode("13001", [PARIS, LYON]) is None


class TestZoneDefinition:
    def test_refuses_an_entry_held_by_another_zone(self) -> None:
        with pytest.raises(Conflict) as caught:
            check_no_overlap(Zone("other", "Other", ("75011", "92")), [PARIS, PARIS_11])
        assert caught.value.extra["zone"] == "paris-11"
        assert caught.value.extra["postcodes"] == ["75011"]

    def test_allows_a_longer_prefix_than_another_zone(self) -> None:
        check_no_overlap(Zone("paris-12", "Paris 12e", ("75012",)), [PARIS, PARIS_11])

    def test_a_zone_may_be_redefined_with_its_own_entries(self) -> None:
        check_no_overlap(Zone("paris", "Paris", ("75", "77")), [PARIS, PARIS_11])

    @pytest.mark.parametrize("bad", ["", "7501A", "123456", "75 011x"])
    def test_refuses_malformed_entries(self, bad: str) -> None:
        with pytest.raises(Invalid) as caught:
            normalise_entries(["75001", bad])
        assert caught.value.loc == ["body", "postcodes", "1"]

    def test_refuses_no_entries(self) -> None:
        with pytest.raises(Invalid):
            normalise_entries([])

    def test_normalises_and_deduplicates(self) -> None:
        assert normalise_entries([" 75011", "75011", "69"]) == ("69", "75011")
