"""The team in a browser: an annotator sees their count and agreement and logs out; the lead follows the
Team link to /team, sees the disagreement with both answers and resolves it there."""

from conftest import nudge_serve
from gradio_client import Client
from page_driver import BROWSER_TESTS, browser, next_point, shown_point  # noqa: F401 (a fixture)

from nudge.loop.store.store import Store

pytestmark = BROWSER_TESTS
LOGINS = {"alice": "wonderland", "bob": "builder", "lead": "in-charge"}


def log_in(context, url: str, name: str):
    page = context.new_page()
    page.goto(url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(LOGINS[name])
    page.get_by_role("button", name="Login").click()
    return page


def test_standing_logout_and_the_leads_review(tmp_path, browser):  # noqa: F811
    db = tmp_path / "team.db"
    logins = [argument for name, password in LOGINS.items() for argument in ("--auth", f"{name}:{password}")]
    with nudge_serve(db, "--dataset", "moons", "--n-samples", "30", "--session", "team", "--overlap-every", "1",
                     "--set", "max_epochs=5", *logins, "--lead", "lead") as server:
        alices, leads = browser.new_context(), browser.new_context()
        alice = log_in(alices, server.url, "alice")
        point = shown_point(alice)
        assert alice.locator(".team-link").is_hidden() and alice.locator(".logout-link").is_visible()
        alice.keyboard.press("0")  # class "0" (classes named by numbers are keyed by their names)
        alice.keyboard.press("Enter")
        next_point(alice, point)
        bob = Client(server.url, auth=("bob", LOGINS["bob"]), verbose=False)
        query = bob.predict("", api_name="/next")
        while query["point_id"] != point:
            query = bob.predict(query["query_id"], "", api_name="/skip")
        bob.predict(query["query_id"], "1", None, None, None, None, "", api_name="/submit")
        alice.wait_for_function("() => document.querySelector('#status-line').innerText.includes("
                                "'yours 1, 0% agreeing with others')")

        lead = log_in(leads, server.url, "lead")
        shown_point(lead)
        lead.locator(".team-link").click()
        lead.wait_for_url("**/team")
        disagreement = lead.locator(f".disagreement[data-point='{point}']")
        assert "alice said 0" in disagreement.inner_text() and "bob said 1" in disagreement.inner_text()
        assert "alice & bob" in lead.locator("#team-pairs").inner_text()
        store = Store(db, create=False)
        bobs = next(a.id for a in store.log("team").annotations() if a.annotator == "bob" and a.label is not None)
        lead.locator("#review-point input").fill(str(point))
        lead.locator("#review-accept input").fill(str(bobs))
        lead.locator("#review-resolve").click()
        lead.get_by_text(f"point {point} resolved as 1 by lead").wait_for()
        assert lead.locator(".disagreement").count() == 0
        resolution = store.log("team").annotations()[-1]
        assert (resolution.point_id, resolution.label, resolution.resolved_by) == (point, 1, "lead")
        store.close()

        alice.locator(".logout-link").click()
        alice.get_by_role("button", name="Login").wait_for()  # back at the login form
        alices.close()
        leads.close()

