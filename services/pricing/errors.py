"""The pricing service's refusals, each with its HTTP status."""

from __future__ import annotations

from shared.errors import Conflict, Gone, NotFound


class ZoneNotFound(NotFound):
    code = "zone_not_found"


class NotServed(NotFound):
    code = "not_served"


class GridNotFound(NotFound):
    code = "grid_not_found"


class GridNotEditable(Conflict):
    code = "grid_not_editable"


class QuoteNotFound(NotFound):
    code = "quote_not_found"


class QuoteExpired(Gone):
    code = "quote_expired"


class LedgerEntryNotFound(NotFound):
    code = "ledger_entry_not_found"
