"""A tiny local stand-in for the INSEE Sirene API, served by http.server in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "test-key"


def establishment(siret: str, state: str, code: str, unit_state: str = "A") -> dict[str, Any]:
    return {
        "header": {"statut": 200, "message": "ok"},
        "etablissement": {
            "siret": siret,
            "uniteLegale": {
                "etatAdministratifUniteLegale": unit_state,
                "categorieJuridiqueUniteLegale": "1000",
                "activitePrincipaleUniteLegale": code,
            },
            "periodesEtablissement": [
                {
                    "dateFin": None,
                    "etatAdministratifEtablissement": state,
                    "activitePrincipaleEtablissement": code,
                }
            ],
        },
    }


class SireneStub:
    """Answers GET /siret/{siret} from a dict; records the requests it saw."""

    def __init__(self, companies: dict[str, dict[str, Any]]) -> None:
        self.companies = companies
        self.requests: list[tuple[str, str | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                key = self.headers.get("X-INSEE-Api-Key-Integration")
                stub.requests.append((self.path, key))
                if key != KEY:
                    self._send(401, {"fault": "invalid key"})
                    return
                siret = self.path.rsplit("/", 1)[-1]
                if siret in stub.companies:
                    self._send(200, stub.companies[siret])
                else:
                    self._send(404, {"header": {"statut": 404, "message": "Aucun élément trouvé"}})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/api-sirene/3.11"

    @contextmanager
    def running(self) -> Iterator[SireneStub]:
        thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join()
