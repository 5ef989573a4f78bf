"""The ops console in headless Chromium against the running platform: each page does its job."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Platform, screenshot, sign_in
from tests.console.scenario import ok

pytestmark = pytest.mark.integration  # needs the browser deploy/browser.sh installs (make test)

def cell_input(page: Page, key: str, field: str = "hourly_rate_cents") -> Any:
    return page.locator(f'#grid-table td[data-key="{key}"] input[data-field="{field}"]')


class TestSignIn:
    def test_refuses_a_token_that_is_not_ops(self, page: Page, platform: Platform) -> None:
        page.goto(platform.console)
        provider = platform.api.tokens.provider("prov-lea")["Authorization"].removeprefix("Bearer ")
        page.fill("#token", provider)
        page.click("form.signin button[type=submit]")
        expect(page.locator("#signin-error")).to_contain_text("not an ops token")
        assert page.evaluate("sessionStorage.length") == 0

    def test_keeps_the_token_in_session_storage_until_sign_out(self, page: Page, platform: Platform) -> None:
        sign_in(page, platform)
        stored = page.evaluate("sessionStorage.getItem('coupdemain.console.token')")
        assert stored == platform.api.ops["Authorization"].removeprefix("Bearer ")
        assert page.evaluate("localStorage.length") == 0
        page.reload()
        expect(page.locator("#grid-table")).to_be_visible()
        page.click("#signout")
        expect(page.locator("#token")).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0


class TestPriceGrids:
    def test_edit_a_draft_see_the_refusal_cell_by_cell_then_publish(
        self, page: Page, platform: Platform, tmp_path: Path
    ) -> None:
        api = platform.api
        sign_in(page, platform)
        expect(
            page.locator('#grid-table[data-mode="published"] td[data-key="cleaning|paris-centre"]')
        ).to_contain_text("28.00 €/h")
        screenshot(page, "01-grids-published")

        page.click("#new-draft")
        expect(page.locator('#grid-table[data-mode="draft"]')).to_be_visible()
        expect(page.locator("#floor-ok")).to_be_visible()
        key = "cleaning|paris-centre"
        cell_input(page, key).fill("9")
        below = page.locator(f'#grid-table td.cell.below[data-key="{key}"]')
        expect(below).to_be_visible()
        expect(below.locator(".net")).to_contain_text("< floor 9.52 €/h")
        expect(page.locator("#floor-below")).to_contain_text("1 cell(s)")

        page.click("#publish")
        refusal = page.locator("#refusal")
        expect(refusal).to_contain_text("Refused by the server")
        expect(refusal.locator(f'li[data-key="{key}"]')).to_contain_text("short by")
        expect(page.locator(f'#grid-table td.cell.refused[data-key="{key}"]')).to_be_visible()
        screenshot(page, "02-grids-refused")
        assert ok(api.http.get("/v1/price-grids/current", headers=api.ops))["version"] == 1

        cell_input(page, key).fill("31")
        expect(page.locator("#floor-ok")).to_be_visible()
        expect(page.locator("#refusal")).to_have_count(0)
        expect(page.locator("#diff-table")).to_contain_text("31.00")
        expect(page.locator("#save-state")).to_have_text("all changes saved")
        screenshot(page, "03-grids-draft-diff")
        page.fill("#publish-reason", "cleaning in the centre paid more")
        page.click("#publish")
        expect(page.locator("#published")).to_contain_text("version 2")
        current = ok(api.http.get("/v1/price-grids/current", headers=api.ops))
        assert current["version"] == 2 and current["publish_reason"] == "cleaning in the centre paid more"
        (cell,) = [c for c in current["cells"] if (c["category"], c["zone"]) == ("cleaning", "paris-centre")]
        assert cell["hourly_rate_cents"] == 3100

        with page.expect_download() as download:
            page.click("#export-csv")
        exported = tmp_path / "grid.csv"
        download.value.save_as(exported)
        text = exported.read_text()
        assert "cleaning,paris-centre,3100" in text
        edited = tmp_path / "edited-grid.csv"
        edited.write_text(text.replace("cleaning,paris-centre,3100", "cleaning,paris-centre,3300"))
        page.set_input_files("#import-file", str(edited))
        expect(page.locator("#draft-select option:checked")).to_have_text("Draft: edited-grid")
        expect(cell_input(page, key)).to_have_value("33.00")
        drafts = [
            g for g in ok(api.http.get("/v1/price-grids", headers=api.ops)) if g["name"] == "edited-grid"
        ]
        assert len(drafts) == 1 and drafts[0]["status"] == "draft"


class TestTraining:
    def test_add_a_requirement_after_seeing_who_it_disqualifies(self, page: Page, platform: Platform) -> None:
        api, scenario = platform.api, platform.scenario
        sign_in(page, platform, "training")
        expect(page.locator("#base-checks")).to_contain_text("insurance")
        expect(page.locator('#requirements tr[data-category="childcare"] td.checks')).to_contain_text(
            "criminal_record"
        )
        row = page.locator('#requirements tr[data-category="gardening"]')
        row.locator("select.add-module").select_option(scenario.module_id)
        expect(row.locator(".impact")).to_contain_text("would disqualify 1 provider")
        expect(row.locator(".impact")).to_contain_text(scenario.courier_id)
        screenshot(page, "04-training-preview")
        catalogue = ok(api.http.get("/v1/trainings/modules", headers=api.ops))
        assert "gardening" not in catalogue["requirements"]

        row.locator("button.save-requirements").click()
        expect(row.locator('[data-module="garden-safety"]')).to_be_visible()
        expect(row.locator(".impact")).to_have_count(0)
        catalogue = ok(api.http.get("/v1/trainings/modules", headers=api.ops))
        assert catalogue["requirements"]["gardening"] == [scenario.module_id]
        courier = ok(api.http.get(f"/v1/providers/{scenario.courier_id}", headers=api.ops))
        assert courier["qualifications"]["qualified"] == ["cleaning"]

        page.fill("#module-code", "first-aid")
        page.fill("#module-title", "First aid basics")
        page.fill("#module-validity", "730")
        page.click("#new-module button[type=submit]")
        expect(page.locator('#modules tr[data-module="first-aid"]')).to_contain_text("730 days")

        page.locator('#modules tr[data-module="garden-safety"] button.edit-module').click()
        page.locator('#modules tr[data-module="garden-safety"] input.validity').fill("30")
        expect(page.locator('#modules tr[data-module="garden-safety"] .impact')).to_contain_text(
            "disqualifies nobody"
        )


class TestVetting:
    def test_record_the_missing_check_and_approve(self, page: Page, platform: Platform) -> None:
        api, applicant = platform.api, platform.scenario.applicant_id
        sign_in(page, platform, f"vetting/{applicant}")
        missing = page.locator('#missing li[data-item="insurance"]')
        expect(missing).to_contain_text("no insurance check")
        page.click("#approve")
        expect(page.locator("#decision-result .error")).to_contain_text("insurance")

        missing.locator("button.record-missing").click()
        expect(page.locator("#check-kind")).to_have_value("insurance")
        page.fill("#check-evidence", "policy AXA-2026-114")
        page.click("#check-form button[type=submit]")
        expect(page.locator("#nothing-missing")).to_be_visible()
        expect(page.locator("#checks")).to_contain_text("policy AXA-2026-114")
        expect(page.locator("#audit")).to_contain_text("check_recorded")
        screenshot(page, "05-vetting")

        page.fill("#decision-reason", "identity, right to work, SIRET and insurance checked")
        page.click("#approve")
        expect(page.locator("#decided")).to_contain_text("now active")
        provider = ok(api.http.get(f"/v1/providers/{applicant}", headers=api.ops))
        assert provider["status"] == "active"
        audit = ok(api.http.get(f"/v1/vetting/audit?provider_id={applicant}", headers=api.ops))
        assert any(e["action"] == "approved" or "approve" in e["action"] for e in audit)
        expect(page.locator(f'#queue tr[data-provider="{applicant}"]')).to_have_count(0)

    def test_reject_needs_a_written_reason(self, page: Page, platform: Platform) -> None:
        api, doubtful = platform.api, platform.scenario.extra["doubtful_id"]
        sign_in(page, platform, f"vetting/{doubtful}")
        expect(page.locator('#missing li[data-item="identity"]')).to_be_visible()
        page.fill("#decision-reason", "no")
        page.click("#reject")
        expect(page.locator("#decision-result .error")).to_contain_text("reason")
        assert ok(api.http.get(f"/v1/providers/{doubtful}", headers=api.ops))["status"] == "applied"
        page.fill("#decision-reason", "the identity document does not match the applicant")
        page.click("#reject")
        expect(page.locator("#decided")).to_contain_text("now rejected")
        decisions = ok(api.http.get(f"/v1/providers/{doubtful}/decisions", headers=api.ops))
        assert decisions[-1]["reason"] == "the identity document does not match the applicant"


class TestDispatchBoard:
    def test_an_order_appears_then_gets_assigned_while_the_page_watches(
        self, page: Page, platform: Platform
    ) -> None:
        api, courier = platform.api, platform.scenario.courier_id
        sign_in(page, platform, "dispatch")
        expect(page.locator("#live")).to_contain_text("live")
        expect(page.locator("#map polygon").first).to_be_visible()
        order = api.order("client-console", "cleaning", "75011", 48.857, 2.381)
        order_id = order["id"]
        on_board = page.locator(f'#pool tr[data-order="{order_id}"], #offers tr[data-order="{order_id}"]')
        expect(on_board.first).to_be_visible()
        offer = wait_for_offer(platform, courier, order_id)
        expect(page.locator(f'#offers tr[data-order="{order_id}"]')).to_contain_text(courier)
        accepted = api.http.post(f"/v1/offers/{offer['id']}/accept", headers=api.tokens.provider(courier))
        assert accepted.status_code == 200, accepted.text
        expect(page.locator(f'#missions tr[data-order="{order_id}"]')).to_contain_text(courier)
        expect(page.locator(f'#map .order.mission[data-order="{order_id}"]')).to_be_visible()
        expect(page.locator("#count-assigned b")).to_have_text("1")

        west = platform.scenario.extra["west_id"]
        waiting = api.order("client-west", "handyman", "75003", 48.8630, 2.3600)["id"]
        offered = api.order("client-west", "cleaning", "75016", 48.8580, 2.2700)["id"]
        expect(page.locator(f'#pool tr[data-order="{waiting}"]')).to_contain_text("handyman")
        expect(page.locator(f'#offers tr[data-order="{offered}"]')).to_contain_text(west)
        expect(page.locator(f'#map .order.pool[data-order="{waiting}"]')).to_be_visible()
        expect(page.locator(f'#map .order.offered[data-order="{offered}"]')).to_be_visible()
        expect(page.locator("#map .provider")).to_have_count(2)

        page.locator(f'#map .order[data-order="{order_id}"]').click()
        explain = page.locator("#explain")
        expect(explain.locator("pre.summary")).to_contain_text(f"went to provider {courier}")
        expect(explain).to_contain_text("total (lower is better)")
        screenshot(page, "06-dispatch-board")  # the README's picture: services/console/docs/

        page.locator("#weights-form input[name=travel]").fill("2")
        page.fill("#weights-reason", "travel matters more at rush hour")
        page.click("#weights-form button[type=submit]")
        expect(page.locator("#weights")).to_contain_text("by ops-console")
        weights = ok(api.http.get("/v1/dispatch/weights", headers=api.ops))
        assert weights["weights"]["travel"] == 2.0


def wait_for_offer(
    platform: Platform, provider_id: str, order_id: str, timeout: float = 15
) -> dict[str, Any]:
    """Wait until the dispatch loop offered the order to the provider; return the offer."""
    api = platform.api
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        offers = ok(api.http.get("/v1/offers", headers=api.tokens.provider(provider_id)))
        for offer in offers:
            if offer["order_id"] == order_id:
                result: dict[str, Any] = offer
                return result
        time.sleep(0.1)
    raise AssertionError(f"no offer of {order_id} to {provider_id} within {timeout} s")


class TestProviderView:
    def test_shows_qualifications_expiry_ratings_and_watches(self, page: Page, platform: Platform) -> None:
        courier = platform.scenario.courier_id
        sign_in(page, platform, "providers")
        page.locator(f'#providers tr[data-provider="{courier}"]').click()
        expect(page).to_have_url(re.compile(f"#/providers/{courier}$"))
        expect(page.locator('#qualifications tr[data-category="cleaning"]')).to_contain_text("qualified")
        expect(page.locator("#turnover")).to_contain_text("83 600.00 €")
        expect(page.locator("#dependency")).to_be_visible()
        expect(page.locator("#rating")).to_be_visible()
        expect(page.locator("#decisions")).to_contain_text("approve")
        expect(page.get_by_text(re.compile(r"until \d{2} \w{3} \d{4}"))).to_be_visible()
        screenshot(page, "07-provider")
