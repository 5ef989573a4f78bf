"""The console's calls, read from its own endpoint list (js/endpoints.js), checked against the API.

Every call the console makes is listed in js/endpoints.js; these tests parse that file, so
the list cannot drift: every ops call is refused (403) to provider and client tokens, every
change is ops-only, every call exists in the OpenAPI document, and no page calls the API
around the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from services.console import CONSOLE_DIR
from shared.categories import CATEGORIES
from tests.console.conftest import Platform
from tests.console.scenario import ok

JS = CONSOLE_DIR / "js"
ENTRY = re.compile(
    r'^\s*(\w+): \{ method: "(GET|POST|PUT|PATCH|DELETE)", path: "([^"]+)", access: "(\w+)" \},$'
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    access: str

    def url(self, values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], self.path)

    @property
    def template(self) -> str:
        """The path as OpenAPI writes it (no query string)."""
        return self.path.split("?")[0]


def console_endpoints() -> list[Endpoint]:
    """Parse js/endpoints.js; every line that names a method must parse."""
    lines = (JS / "endpoints.js").read_text().splitlines()
    entries = [line for line in lines if "method:" in line]
    parsed = [ENTRY.match(line) for line in entries]
    unparsed = [line for line, match in zip(entries, parsed, strict=True) if match is None]
    assert not unparsed, f"endpoints.js lines this test cannot read: {unparsed}"
    return [Endpoint(*m.groups()) for m in parsed if m is not None]


def pages_source() -> dict[Path, str]:
    return {path: path.read_text() for path in JS.rglob("*.js") if path.name != "endpoints.js"}


def path_values(platform: Platform) -> dict[str, str]:
    api = platform.api
    grid = ok(api.http.get("/v1/price-grids", headers=api.ops))[0]
    return {
        "grid_id": grid["id"],
        "provider_id": platform.scenario.applicant_id,
        "module_id": platform.scenario.module_id,
        "category": "cleaning",
        "order_id": "no-such-order",
        "name": "refused-import",
    }


class TestEndpointList:
    def test_lists_a_known_set_of_calls_and_changes_are_ops_only(self) -> None:
        endpoints = console_endpoints()
        assert len(endpoints) >= 30
        assert len({e.name for e in endpoints}) == len(endpoints)
        assert {e.access for e in endpoints} <= {"ops", "shared", "public"}
        changes = [e for e in endpoints if e.method != "GET"]
        assert changes and all(e.access == "ops" for e in changes), [
            e.name for e in changes if e.access != "ops"
        ]

    def test_pages_call_the_api_only_through_the_list(self) -> None:
        names = {e.name for e in console_endpoints()}
        used: set[str] = set()
        for path, source in pages_source().items():
            assert "/v1/" not in source, f"{path.name} writes an API path outside endpoints.js"
            if path.name != "api.js":
                assert "fetch(" not in source, f"{path.name} calls fetch outside api.js"
            called = set(re.findall(r'\bcall\("(\w+)"', source))
            assert called <= names, f"{path.name} calls unknown endpoints {called - names}"
            used |= called
        assert used == names, f"listed but never called: {names - used}"

    def test_category_labels_mirror_the_shared_catalogue(self) -> None:
        source = (JS / "ui.js").read_text()
        block = source.split("export const CATEGORIES = {", 1)[1].split("};", 1)[0]
        labels = dict(re.findall(r'(\w+): "([^"]+)"', block))
        assert labels == {code: c.label for code, c in CATEGORIES.items()}


class TestRefusedToOthers:
    def test_every_ops_call_is_refused_to_provider_and_client_tokens(self, platform: Platform) -> None:
        api = platform.api
        values = path_values(platform)
        others = {
            "provider (the one in the path)": api.tokens.provider(values["provider_id"]),
            "provider": api.tokens.provider(platform.scenario.courier_id),
            "client": api.tokens.client("client-console"),
        }
        checked = 0
        for endpoint in console_endpoints():
            if endpoint.access != "ops":
                continue
            for who, headers in others.items():
                if endpoint.name == "importGridCsv":
                    kwargs: dict[str, object] = {
                        "content": "category,zone\n",
                        "headers": {**headers, "Content-Type": "text/csv"},
                    }
                elif endpoint.method == "GET":
                    kwargs = {"headers": headers}
                else:
                    kwargs = {"json": {}, "headers": headers}
                response = api.http.request(endpoint.method, endpoint.url(values), **kwargs)  # type: ignore[arg-type]
                assert response.status_code == 403, (
                    f"{endpoint.name} as {who}: {response.status_code} {response.text}"
                )
                checked += 1
            no_token = api.http.request(endpoint.method, endpoint.url(values))
            assert no_token.status_code == 401, f"{endpoint.name} without a token: {no_token.status_code}"
        assert checked >= 3 * 15

    def test_every_call_exists_in_the_api_and_ops_reads_answer(self, platform: Platform) -> None:
        api = platform.api
        document = ok(api.http.get("/openapi.json"))
        values = path_values(platform)
        for endpoint in console_endpoints():
            operations = document["paths"].get(endpoint.template, {})
            assert endpoint.method.lower() in operations, (
                f"{endpoint.name}: {endpoint.method} {endpoint.template}"
            )
            if endpoint.method == "GET" and "{order_id}" not in endpoint.path:
                response = api.http.get(endpoint.url(values), headers=api.ops)
                assert response.status_code == 200, f"{endpoint.name}: {response.status_code} {response.text}"
