"""The INSEE Sirene registry check (API 3.11): is the company active, what is its activity code.

Off by default: enabled when PROVIDERS_SIRENE_URL is set; the key goes in the
`X-INSEE-Api-Key-Integration` header. Unknown SIRET -> status "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.errors import Unavailable

KEY_HEADER = "X-INSEE-Api-Key-Integration"


@dataclass(frozen=True)
class RegistryAnswer:
    status: str  # active | closed | unknown
    activity_code: str | None = None
    legal_form: str | None = None


class SireneClient:
    """Asks the Sirene API about one establishment."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, key: str | None, timeout_s: float) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout_s = timeout_s

    async def lookup(self, siret: str) -> RegistryAnswer:
        """Return the registry's answer about `siret`; Unavailable when the registry cannot say."""
        headers = {KEY_HEADER: self.key} if self.key else {}
        try:
            response = await self.http.get(
                f"{self.base_url}/siret/{siret}", headers=headers, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"company registry unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return RegistryAnswer("unknown")
        if response.status_code != 200:
            raise Unavailable(f"company registry answered {response.status_code}")
        try:
            return parse_establishment(response.json())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Unavailable("company registry sent an unreadable answer") from exc


def parse_establishment(body: dict[str, Any]) -> RegistryAnswer:
    """Read the establishment and its legal unit: both must be administratively active (A)."""
    establishment = body["etablissement"]
    unit = establishment.get("uniteLegale") or {}
    periods = establishment.get("periodesEtablissement") or [{}]
    current = periods[0]
    is_active = current.get("etatAdministratifEtablissement", "A") == "A" and (
        unit.get("etatAdministratifUniteLegale", "A") == "A"
    )
    code = current.get("activitePrincipaleEtablissement") or unit.get("activitePrincipaleUniteLegale")
    legal_form = unit.get("categorieJuridiqueUniteLegale")
    return RegistryAnswer(
        "active" if is_active else "closed",
        str(code) if code else None,
        str(legal_form) if legal_form else None,
    )
