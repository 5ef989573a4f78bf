"""Errors of the orders service (each carries its HTTP status through shared.errors)."""

from __future__ import annotations

from shared.errors import NotFound, Unavailable


class OrderNotFound(NotFound):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")


class SeriesNotFound(NotFound):
    def __init__(self, series_id: str) -> None:
        super().__init__(f"series {series_id} not found")


class DisputeNotFound(NotFound):
    def __init__(self, dispute_id: str) -> None:
        super().__init__(f"dispute {dispute_id} not found")


class QuoteNotFound(NotFound):
    """Unknown, or another client's: the two are told apart to nobody."""

    def __init__(self, quote_id: str) -> None:
        super().__init__(f"quote {quote_id} not found", field="quote_id")


class PricingUnavailable(Unavailable):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"the pricing service cannot be reached ({detail}); nothing was ordered, try again shortly"
        )
