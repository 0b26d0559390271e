"""A team through ``nudge serve --auth ... --lead``: an overlap item reaches two people (never one twice),
the lead sees the disagreement and resolves it, the resolution is what trains; ``nudge agreement``
prints the same numbers; annotators see their own standing."""

import httpx
import pytest
from conftest import nudge_serve, wait_for
from gradio_client import Client
from gradio_client.exceptions import AppError

from nudge.loop.cli import main
from nudge.loop.store.database import Database
from nudge.loop.store.publication import ModelRegistry
from nudge.loop.store.store import Store

SESSION = "team"
LOGINS = {"alice": "wonderland", "bob": "builder", "lead": "in-charge"}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """A moons session of 30 items, each given to two annotators, served with three logins, one the lead."""
    db = tmp_path_factory.mktemp("team") / "team.db"
    logins = [argument for name, password in LOGINS.items() for argument in ("--auth", f"{name}:{password}")]
    with nudge_serve(db, "--dataset", "moons", "--n-samples", "30", "--session", SESSION, "--overlap-every", "1",
                     "--set", "max_epochs=5", "--warm-epochs", "2", *logins, "--lead", "lead") as server:
        yield server, db


def client(server, name: str) -> Client:
    return Client(server.url, auth=(name, LOGINS[name]), verbose=False)


def answer(api: Client, query: dict, label: str) -> dict:
    return api.predict(query["query_id"], label, None, [0.5, 0.0], None, None, "", api_name="/submit")


def test_an_overlap_item_reaches_two_people_and_the_lead_resolution_trains(team, tmp_path):
    server, db = team
    alice, bob, lead = client(server, "alice"), client(server, "bob"), client(server, "lead")
    first = alice.predict("", api_name="/next")
    answer(alice, first, "0")
    assert alice.predict("", api_name="/next")["point_id"] != first["point_id"]  # never twice to one
    query = bob.predict("", api_name="/next")
    while query["point_id"] != first["point_id"]:  # bob passes on the others until alice's point comes
        query = bob.predict(query["query_id"], "", api_name="/skip")
    answer(bob, query, "1")
    assert alice.predict("", api_name="/standing") == {"labels": 1, "agreement": 0.0}
    with pytest.raises(AppError, match=r"only the lead \(lead\)"):
        alice.predict(api_name="/team")
    report = lead.predict(api_name="/team")
    (disagreement,) = report["disagreements"]
    assert disagreement["point_id"] == first["point_id"] and len(disagreement["features"]) == 2
    assert [(a["annotator"], a["label"]) for a in disagreement["answers"]] == [("alice", "0"), ("bob", "1")]
    (pair,) = report["pairs"]
    assert (pair["annotators"], pair["n_items"], pair["share_equal"]) == (["alice", "bob"], 1, 0.0)
    bobs = disagreement["answers"][1]["answer_id"]
    with pytest.raises(AppError, match="only the lead"):
        bob.predict(first["point_id"], bobs, None, api_name="/resolve")
    resolved = lead.predict(first["point_id"], bobs, None, api_name="/resolve")
    assert resolved["label"] == "1" and resolved["resolved_by"] == "lead"
    assert lead.predict(api_name="/team")["disagreements"] == []
    store = Store(db)
    resolution = store.log(SESSION).annotations()[-1]
    assert (resolution.id, resolution.resolved_by, resolution.label) == (resolved["answer_id"], "lead", 1)
    other = lead.predict(query["point_id"] + 1 if query["point_id"] < 29 else 0, None, "0", api_name="/resolve")
    models = ModelRegistry(Database(db), SESSION)  # a second class: the model can train
    wait_for(lead, lambda _: {resolution.id, other["answer_id"]} <= trained_on(models), timeout=120)
    answers = {a.id for a in store.log(SESSION).annotations() if a.resolved_by is None}
    assert not answers & trained_on(models)  # alice's and bob's answers alone never trained
    assert main(["export", "--db", str(db), "--session", SESSION, "--out", str(tmp_path / "log.jsonl")]) == 0
    assert '"resolved_by": "lead"' in (tmp_path / "log.jsonl").read_text()
    store.close()


def test_nudge_agreement_prints_the_table(team, capsys):
    _, db = team
    assert main(["agreement", "--db", str(db), "--session", SESSION, "--no-model"]) == 0
    without_model = capsys.readouterr().out
    assert "alice & bob" in without_model and "Krippendorff's alpha" in without_model
    assert main(["agreement", "--db", str(db), "--session", SESSION]) == 0
    with_model = capsys.readouterr().out.splitlines()
    alice = next(line for line in with_model if line.startswith("alice"))
    assert alice.split()[6] != "-"  # her agreement with the current model (a trained one is published)


def test_the_team_page_is_the_leads_and_the_page_has_a_logout(team):
    server, _ = team
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("login", data={"username": "alice", "password": LOGINS["alice"]}).status_code == 200
        assert http.get("team").status_code == 200
        assert http.get("logout", follow_redirects=False).status_code == 302
        assert http.get("config").status_code == 401  # logged out


def trained_on(models: ModelRegistry) -> set[int]:
    """The answers the newest published model was trained on."""
    newest = models.newest()
    return set() if newest is None else set(newest.annotation_ids)
