"""Who gets in, and what nobody can make the server do: ``--auth`` guards the page and the API
alike, the login names the annotator, ``--share`` without ``--auth`` warns, no file is served
that the app did not make, and a model checkpoint is loaded as weights only (never unpickled)."""

import json
import pickle
from types import SimpleNamespace

import httpx
import pytest
import torch
from conftest import SMALL_NET, nudge_serve
from gradio_client import Client
from gradio_client.exceptions import AppError

from nudge.estimators import DirectionClassifier
from nudge.loop.cli import main
from nudge.loop.store.store import Store

SESSION = "secure"
USERS = {"alice": "wonderland", "bob": "builder"}
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """``nudge serve --auth alice:... --auth-file <bob's login>`` in a process of its own; yields (server, db)."""
    folder = tmp_path_factory.mktemp("auth")
    db, logins = folder / "auth.db", folder / "logins.txt"
    logins.write_text(f"# annotators\n\nbob:{USERS['bob']}\n")
    with nudge_serve(db, "--dataset", "moons", "--session", SESSION, "--auth", f"alice:{USERS['alice']}",
                     "--auth-file", str(logins)) as server:
        yield server, db


@pytest.mark.parametrize("method, path", [
    ("GET", "config"), ("GET", "gradio_api/info"), ("GET", "gradio_api/openapi.json"),
    ("POST", "gradio_api/call/next"), ("POST", "gradio_api/call/submit"), ("POST", "gradio_api/call/status"),
    ("POST", "gradio_api/call/explain"), ("POST", "gradio_api/call/predict_text"),
    ("POST", "gradio_api/run/explain"), ("POST", "gradio_api/run/predict_text"), ("POST", "gradio_api/component_server"),
    ("POST", "gradio_api/run/next"), ("POST", "gradio_api/queue/join"), ("GET", "gradio_api/queue/data"),
    ("POST", "gradio_api/upload"), ("GET", "gradio_api/file=/etc/passwd"), ("GET", "monitoring"),
])
def test_without_a_login_the_api_refuses_everything(guarded, method, path):
    server, db = guarded
    body = {"data": ["mallory"]} if method == "POST" else None
    response = httpx.request(method, server.url + path, json=body, params={"session_hash": "x"}, timeout=30)
    assert response.status_code == 401 and "Not authenticated" in response.text
    store = Store(db)
    assert store.log(SESSION).annotations() == [] and store.queries(SESSION).open_queries() == []
    store.close()


def test_without_a_login_the_page_is_only_the_login_form(guarded):
    server, _ = guarded
    page = httpx.get(server.url, timeout=30).text
    assert '"auth_required":true' in page.replace(" ", "") and "Label the point" not in page
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        refused = browser.post("login", data={"username": "alice", "password": "guess"})
        assert refused.status_code == 400 and browser.get("config").status_code == 401
        assert browser.post("login", data={"username": "alice", "password": "wonderland"}).status_code == 200
        assert browser.get("config").status_code == 200 and "Label the point" in browser.get("").text


def test_clients_need_the_right_password(guarded):
    server, _ = guarded
    with pytest.raises(Exception, match="credentials were not provided"):
        Client(server.url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(server.url, auth=("alice", "builder"), verbose=False)  # bob's password


def test_the_login_names_the_annotator_and_owns_its_queries(guarded):
    server, db = guarded
    alice = Client(server.url, auth=("alice", USERS["alice"]), verbose=False)
    bob = Client(server.url, auth=("bob", USERS["bob"]), verbose=False)
    query = alice.predict("mallory", api_name="/next")  # a typed name does not override the login
    assert query["annotator"] == "alice"
    bobs = bob.predict("alice", api_name="/next")
    assert bobs["annotator"] == "bob" and bobs["point_id"] != query["point_id"]
    with pytest.raises(AppError, match="belongs to 'bob'"):  # alice cannot answer bob's query
        alice.predict(bobs["query_id"], "1", None, None, None, None, "bob", api_name="/submit")
    alice.predict(query["query_id"], "1", None, None, None, None, "bob", api_name="/submit")
    store = Store(db)
    (stored,) = store.log(SESSION).annotations()
    assert (stored.query_id, stored.annotator) == (query["query_id"], "alice")
    assert {q.annotator for q in store.queries(SESSION).open_queries()} == {"alice", "bob"}
    store.close()


def test_plain_http_with_the_login_cookie_reaches_the_api_as_the_readme_shows(guarded):
    """curl or httpx, no gradio_client: log in, POST /gradio_api/call/next, read its event stream."""
    server, _ = guarded
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("login", data={"username": "bob", "password": USERS["bob"]}).status_code == 200
        event_id = http.post("gradio_api/call/next", json={"data": [""]}).json()["event_id"]
        event, _, data = http.get(f"gradio_api/call/next/{event_id}").text.partition("\ndata: ")
        assert event.strip() == "event: complete", data
        (query,) = json.loads(data)
        assert query["annotator"] == "bob" and query["query_id"] and len(query["x"]) == 2


def test_a_login_reaches_the_text_help_routes_and_gets_plain_refusals(guarded):
    server, _ = guarded
    alice = Client(server.url, auth=("alice", USERS["alice"]), verbose=False)
    query = alice.predict(api_name="/next")
    assert "this one has no texts" in alice.predict(query["query_id"], api_name="/explain")["message"]
    with pytest.raises(AppError, match="the text is empty"):
        alice.predict("", None, api_name="/predict_text")


def test_the_page_takes_the_login_name_over_the_typed_one(running_app):
    app = running_app.app
    token = app.open_tab(SimpleNamespace(username="alice"))["token"]
    query = app.page_begin({"token": token, "name": "mallory"})["query"]
    assert query["annotator"] == "alice"
    assert running_app.session.query(query["query_id"]).annotator == "alice"


def test_no_file_is_served_that_the_app_did_not_make(running_app, tmp_path):
    """Gradio's file route must not hand out the database, the code or system files."""
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    database = running_app.session.store.path
    for path in ("/etc/passwd", str(database), str(secret), __file__, "../../../../etc/passwd"):
        response = httpx.get(f"{running_app.url}gradio_api/file={path}", timeout=30)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert "do not serve" not in response.text and "root:" not in response.text


@pytest.mark.parametrize("arguments, warned", [(["--share"], True), (["--share", "--auth", "a:b"], False)])
def test_share_without_auth_warns(tmp_path, capsys, arguments, warned):
    """The warning comes first: here the database is unusable, so nothing is launched or shared."""
    assert main(["serve", *arguments, "--db", str(tmp_path / "missing" / "x.db")]) == 1
    error = capsys.readouterr().err
    assert ("--share without --auth makes the UI public" in error) == warned
    assert "does not exist" in error


@pytest.mark.parametrize("auth", ["alice", "alice:", ":secret"])
def test_malformed_logins_are_refused(tmp_path, capsys, auth):
    assert main(["serve", "--auth", auth, "--db", str(tmp_path / "x.db")]) == 1
    assert "--auth takes user:password" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (None, "cannot read --auth-file"), ("# nobody\n\n", "holds no user:password line"),
    ("alice:wonderland\nbob\n", "login 2 is not user:password"), ("alice:\n", "--auth takes user:password"),
])
def test_bad_auth_files_are_refused(tmp_path, capsys, content, message):
    logins = tmp_path / "logins.txt"
    if content is not None:
        logins.write_text(content)
    assert main(["serve", "--auth-file", str(logins), "--db", str(tmp_path / "x.db")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()  # refused before anything was stored


class Exploit:
    """Unpickling this runs code: it would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).touch, (self.marker,))


def test_pickled_checkpoints_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    raw = tmp_path / "model.pkl"
    raw.write_bytes(pickle.dumps({"weights": Exploit(marker)}))
    saved = tmp_path / "model.pt"  # what torch.save writes: a zip holding a pickle
    torch.save({"module.0.weight": torch.zeros(2), "payload": Exploit(marker)}, saved)
    for path in (raw, saved):
        with pytest.raises(ValueError, match="not a nudge weights file"):
            DirectionClassifier(**SMALL_NET).load_weights(path)
    assert not marker.exists()
