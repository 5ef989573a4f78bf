"""An offer lapses after its lifetime, or at the order's dispatch deadline when that comes first."""

from datetime import UTC, datetime, timedelta

from services.matching.lifecycle import offer_expiry

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_lasts_its_lifetime_when_the_deadline_is_further() -> None:
    assert offer_expiry(NOW, 90, NOW + timedelta(hours=2)) == NOW + timedelta(seconds=90)


def test_never_outlives_the_dispatch_deadline() -> None:
    assert offer_expiry(NOW, 90, NOW + timedelta(seconds=30)) == NOW + timedelta(seconds=30)


def test_a_passed_deadline_does_not_make_an_offer_that_is_already_lapsed() -> None:
    assert offer_expiry(NOW, 90, NOW - timedelta(seconds=5)) == NOW + timedelta(seconds=90)
