"""The Gradio annotation page and API: a thin layer over :mod:`nudge.loop.service` and :mod:`nudge.loop.service.tabs`.

The page is one ``gr.HTML`` (``page/page.html``, ``page/page.css`` and the
scripts of ``page/`` in the order of :data:`PAGE_SCRIPTS`, inlined: nothing is
loaded from the internet). It draws each query's picture in the browser from
the data the server sends, keeps the person's label, arrows, example and
rewrite locally, and calls the server only to begin, answer, skip, undo and
poll the status, through the component's server functions (plain JSON over
HTTP, no queue, no loading overlay). The answer rules it applies while a person
works come with its config, as data (:func:`nudge.loop.session.answers.answer_rules`).
A page load registers the tab (:meth:`AnnotationApp.open_tab`, which knows the login).

For text, the page also asks, beside the person's work and never holding it up,
for the shown review's word highlights and for the model's reading of the
rewrite being typed (:class:`nudge.loop.service.explain.Explainer`, sharing the session's
sentence encoder; highlights are started as soon as a query is handed out or
prepared, on the explainer's worker thread).

Named API endpoints for scripted clients (gradio_client): ``/next``,
``/submit``, ``/skip``, ``/undo``, ``/status``, ``/explain`` and
``/predict_text``; they return the same data the page draws. ``/standing`` is the
caller's own count and agreement; ``/team`` and ``/resolve`` are the lead's
(``--lead``), as is the page ``/team`` (:mod:`nudge.ui.team`). Launch with
:func:`launch_app`.

What a failed request is told, and logged: :mod:`nudge.ui.failures`; the page's words:
:mod:`nudge.ui.wording`; checks of what the page sends: :mod:`nudge.ui.page_input`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from nudge.loop.errors import SessionError
from nudge.loop.service.explain import Explainer
from nudge.loop.service.help_limits import AnnotationsFirst, PerClientLimit
from nudge.loop.service.service import AnnotationService, Direction, Picture
from nudge.loop.service.tabs import Outcome, Tabs
from nudge.loop.service.team import Team
from nudge.loop.service.texts import SHOWN_AS
from nudge.loop.session.answers import answer_rules, check_text, who_annotates
from nudge.loop.session.records import Query
from nudge.loop.store.limits import MAX_CLIENT_CHARS
from nudge.loop.store.log import Annotation
from nudge.ui.failures import api_call, page_function
from nudge.ui.gradio_compat import Blocks, with_unknown_components_refused
from nudge.ui.page_input import list_of_dicts, point_of, text_field, who
from nudge.ui.team import TeamPage, check_lead, login_of
from nudge.ui.wording import measured_as, status_line, undo_message

PAGE_TITLE = "nudge: annotate with directions"
CONCURRENCY_LIMIT = 8  # API requests of one endpoint served at once (several annotators, API clients)
HELP_HANDLERS = 8  # help calls (/explain, /predict_text) taken from the queue at once; they run one at a time
HELP_PER_CLIENT = 3  # help calls one client may have waiting or running (the page's highlights and reading)
STATUS_SECONDS = 1.0  # the session's counts are read at most this often, however many tabs poll
PAGE = Path(__file__).with_name("page")
# The page's script, one module a job, joined in this order (main.js says why they are not ES modules):
# base (elements, config, helpers), state (the one mutable state), answer (the answer by the server's
# rules), drawing (the canvas), text_help (highlights, the rewrite's reading), round (the calls to the
# server), controls (label, arrows, examples, rewrite, submit / skip / undo), keys, main (the wiring).
PAGE_SCRIPTS = ("base.js", "state.js", "answer.js", "drawing.js", "text_help.js", "round.js", "controls.js", "keys.js",
                "item_view.js", "main.js")


def client_address(request: gr.Request | None) -> str | None:
    """The address of the browser or client that made the request (behind a local proxy: the one
    the proxy forwards, as uvicorn reads X-Forwarded-For from 127.0.0.1)."""
    client = getattr(request, "client", None) if request is not None else None
    host = getattr(client, "host", None)
    return None if host is None else str(host)[:MAX_CLIENT_CHARS]


def requester(request: gr.Request | None) -> str | None:
    """Who asks, for per-client limits: the login when there is one, else the address."""
    return (getattr(request, "username", None) if request is not None else None) or client_address(request)


def annotator_name(typed: str, request: gr.Request | None) -> str:
    """The login name when there is one, else the name the annotator typed."""
    return who_annotates(getattr(request, "username", None) if request is not None else None, typed)


class AnnotationApp:
    """Builds the Blocks app around one service."""

    def __init__(self, service: AnnotationService, lead: str | None = None) -> None:
        """``lead``: the login that sees the team's page (/team) and resolves disagreements (``--lead``)."""
        self.service = service
        self.lead = lead
        self.team = Team(service.session)
        self.dataset = service.session.dataset
        self.is_text = self.dataset.texts is not None
        self.first = AnnotationsFirst()
        self.explainer = Explainer(service.session, before_each=self.first.wait_turn)
        self.help = PerClientLimit(HELP_PER_CLIENT)
        self.tabs = Tabs(service, on_prepared=self.explainer.prefetch_point if self.is_text else None)
        self.class_names = list(self.dataset.class_names)
        self._status: tuple[float, dict, dict, list] | None = None

    # ------------------------------------------------------------------ the page
    def open_tab(self, request: gr.Request = None) -> dict:
        """Page load: register the tab; the page's value is its token, login (None without --auth) and
        whether that login is the lead's (who gets a link to the team's page)."""
        login = getattr(request, "username", None) if request is not None else None
        return {"token": self.tabs.open(login, client_address(request)), "login": login,
                "lead": login is not None and login == self.lead}

    def page_begin(self, data: dict) -> dict:
        """The tab's query as it opens (or its name changes); an undone answer it shows comes back with it
        (a reload after an undo shows the answer as the undo did)."""
        token, name = who(data)
        outcome = self.tabs.begin(token, name, text_field(data.get("previous"), "previous", optional=True))
        reply = self._shown(outcome)
        query = None if outcome.shown is None else outcome.shown.query
        if query is not None and query.reopens is not None and not query.reopens.is_skip:
            restored = reply["restore"] = self._restored(query.reopens, query)
            reply["message"] = reply["message"] or undo_message(query.point_id, restored, query.reopens.sources,
                                                                 again=True)
        return reply

    def page_answer(self, data: dict) -> dict:
        token, name = who(data)
        directions = [Direction(plane=(arrow.get("a"), arrow.get("b")), target=arrow.get("target"))
                      for arrow in list_of_dicts(data.get("arrows"), "arrows")]
        towards = data.get("towards")
        if towards is not None:
            if not isinstance(towards, dict):
                raise SessionError("towards is {point_id, target}")
            directions.append(Direction(towards=towards.get("point_id"), target=towards.get("target")))
        if data.get("rewrite") is not None:
            directions.append(Direction(rewrite=data["rewrite"], target=data.get("rewrite_target")))
        return self._shown(self.tabs.answer(token, name, point_of(data), data.get("label"), directions))

    def page_skip(self, data: dict) -> dict:
        token, name = who(data)
        point = point_of(data)
        reply = self._shown(self.tabs.skip(token, name, point))
        if reply["message"] is None:
            reply["message"] = f"Skipped point {point}: it goes back to the others (u undoes the skip)"
        return reply

    def page_undo(self, data: dict) -> dict:
        token, name = who(data)
        outcome = self.tabs.undo(token, name)
        if outcome is None:
            return {"ok": True, "message": "nothing to undo"}
        reply = self._shown(outcome)
        query = outcome.shown.query
        if outcome.undone is None:
            reply["message"] = f"Undid your last answer: point {query.point_id} is back"
        elif outcome.undone.is_skip:
            reply["message"] = f"Undid your skip of point {query.point_id}"
        else:
            restored = self._restored(outcome.undone, query)
            reply["restore"] = restored
            reply["message"] = undo_message(query.point_id, restored, outcome.undone.sources)
        return reply

    def _restored(self, undone: Annotation, query: Query) -> dict:
        """An undone answer as the page's controls show it: {label, arrows, towards, rewrite, other_directions}."""
        restored = self.service.restored(undone, query)
        return {"label": restored.label, "arrows": restored.arrows, "towards": restored.towards,
                "rewrite": restored.rewrite, "other_directions": restored.other_directions}

    def page_status(self, data: dict) -> dict:
        token, name = who(data)
        try:
            annotator = self.tabs.seen(token, name)
        except SessionError:
            annotator = None
        status, standings, history = self._session_status()
        standing = None if annotator is None else Team.standing_of(standings, annotator)
        return {"line": status_line(status, standing),
                "history": history, "measured": measured_as(status["evaluation"]["kind"]),
                "model_version": status["model_version"]}

    def page_explain(self, data: dict) -> dict:
        """The word highlights of a pool point's text (the query shown, or an example to move towards)."""
        point = point_of(data)
        if not self.service.session.leases.in_pool(point):
            raise SessionError(f"point {point} is not a pool point")
        if not self.service.session.model.is_fitted:  # expected, not a refusal: nothing to log
            return {"ok": True, "highlights": None, "message": "no highlights before the first answers train a model"}
        with self.help.admitted(self.tabs.requester(text_field(data.get("token"), "token"))):
            return {"ok": True, "highlights": self.explainer.explain_point(point)}

    def page_predict(self, data: dict) -> dict:
        """The model's reading of the rewrite being typed for the query shown."""
        query_id = text_field(data.get("query_id"), "query id")
        with self.help.admitted(self.tabs.requester(text_field(data.get("token"), "token"))):
            return {"ok": True, "reading": self.explainer.predict_text(data.get("text"), query_id)}

    def _shown(self, outcome: Outcome) -> dict:
        shown = outcome.shown
        query = None if shown is None else self._describe(shown.query, shown.picture)
        return {"ok": True, "message": outcome.note, "query": query}

    def _describe(self, query: Query | None, picture: Picture | None = None) -> dict | None:
        """A query handed out, as JSON for the page or a client; for text its highlights start now."""
        described = self.service.describe(query, picture)
        if query is not None and self.is_text:
            self.explainer.prefetch_point(query.point_id)
        return described

    # ------------------------------------------------------------------ status
    def _session_status(self) -> tuple[dict, dict, list]:
        """The session's status, each annotator's standing and the accuracy history, read at most once a second."""
        cached = self._status
        if cached is not None and time.monotonic() - cached[0] < STATUS_SECONDS:
            return cached[1:]
        session = self.service.session
        status = self.service.status()
        kind = status["evaluation"]["kind"]  # one kind per session: test labels or none
        history = [[row["n_labeled"], row["accuracy"]] for row in session.log.evaluations.history()
                   if row["accuracy"] is not None and (row["kind"] or "test") == kind]
        standings = self.team.standings()
        self._status = (time.monotonic(), status, standings, history)
        return status, standings, history

    # ------------------------------------------------------------------ the API
    def api_next(self, annotator: str = "", request: gr.Request = None) -> dict:
        """Hand the caller a query: JSON with query_id, point_id, x, text, prediction and projection."""
        return api_call("next", self._first(lambda: self._describe(
            self.service.next_query(annotator_name(annotator, request), client=client_address(request))) or {}))

    def api_submit(
        self,
        query_id: str,
        label: str,
        direction: list[float] | None = None,
        plane: list[float] | None = None,
        towards: int | None = None,
        rewrite: str | None = None,
        annotator: str = "",
        request: gr.Request = None,
    ) -> dict:
        """Answer a query (label = class name or index; optional direction as a full vector,
        as plane coordinates [a, b], as a point id to move towards, or as rewrite text).
        Returns the next query (empty when the pool is used up)."""
        def answer() -> dict:
            name = annotator_name(annotator, request)
            self.service.submit(query_id, label, annotator=name, direction=direction, plane_point=plane,
                                towards=towards, rewrite=rewrite)
            return self._describe(self.service.next_query(name, client=client_address(request))) or {}

        return api_call("submit", self._first(answer))

    def api_skip(self, query_id: str, annotator: str = "", request: gr.Request = None) -> dict:
        """Pass on a query; returns the next one."""
        def skip() -> dict:
            name = annotator_name(annotator, request)
            self.service.skip(query_id, annotator=name)
            return self._describe(self.service.next_query(name, client=client_address(request))) or {}

        return api_call("skip", self._first(skip))

    def api_undo(self, annotator: str = "", request: gr.Request = None) -> dict:
        """Undo the caller's last answer; returns its point as a query again (empty if nothing to undo)."""
        return api_call("undo", self._first(lambda: self._describe(
            self.service.undo(annotator_name(annotator, request), client=client_address(request))) or {}))

    def api_status(self) -> dict:
        """Session counts, model version, retraining flag, accuracy, strategy and loss."""
        return api_call("status", self.service.status)

    def api_explain(self, query_id: str, request: gr.Request = None) -> dict:
        """The words of a query's text with their weight towards each class under the current model:
        {query_id, point_id, model_version, classes, text, words: [{word, start, end, readable_span,
        weights, read}], unread_words, max_weight, probabilities, prediction, ...} (text data sets); without
        texts, or before a model, {query_id, words: None, message} says why."""
        def explain() -> dict:
            reason = self.explainer.unavailable()
            if reason is not None:  # expected, not a refusal: said, so a script runs the same on any data set
                return {"query_id": query_id, "words": None, "message": reason}
            with self.help.admitted(requester(request)):
                return self.explainer.explain(query_id)

        return api_call("explain", explain)

    def api_predict_text(self, text: str, query_id: str | None = None, request: gr.Request = None) -> dict:
        """The current model's class probabilities for a text; with a query id, also whether it reads as
        another class than the query's text (flips), the word diff (changes) and a warning for a rewrite
        that would teach nothing (a blank query id counts as none). The text is read as a rewrite is
        (line breaks as in the original). Without texts, or before a model: {query_id, prediction: None, message}."""
        def read() -> dict:
            check_text(text)  # bad input is refused as such, on any data set
            reason = self.explainer.unavailable()
            if reason is not None:
                return {"query_id": query_id, "prediction": None, "message": reason}
            with self.help.admitted(requester(request)):
                return self.explainer.predict_text(
                    text, None if isinstance(query_id, str) and not query_id.strip() else query_id)

        return api_call("predict_text", read)

    def api_team(self, request: gr.Request = None) -> dict:
        """The lead's view (the lead's login only): the overlap setting, per annotator their labels, skips,
        median seconds per answer, agreement with the others and the model, the pairs (kappa, direction
        cosine), Krippendorff's alpha, and the disagreements waiting for review with the items."""
        def report() -> dict:
            check_lead(self.lead, login_of(request))
            return self.team.report()

        return api_call("team", report)

    def api_resolve(self, point_id: int, accept: int | None = None, label: str | None = None,
                    request: gr.Request = None) -> dict:
        """The lead resolves a point: accept one answer (its answer id, from /team) or relabel it (label =
        class name or index). The resolution is what the point trains with; the export says who resolved it."""
        def review() -> dict:
            lead = check_lead(self.lead, login_of(request))
            return self.team.resolve(lead, point_id, accept=accept, label=None if label in (None, "") else label)

        return api_call("resolve", self._first(review))

    def api_standing(self, annotator: str = "", request: gr.Request = None) -> dict:
        """The caller's own standing: {"labels", "agreement"} (agreement with the others on shared items;
        None until they share one)."""
        def own() -> dict:
            name = annotator_name(annotator, request)
            return Team.standing_of(self.team.standings(), name)

        return api_call("standing", own)

    def _first(self, handler: Callable) -> Callable:
        """``handler``, served as an annotation request: help jobs wait while it runs (:class:`AnnotationsFirst`)."""
        @functools.wraps(handler)
        def served(*arguments, **keywords):
            with self.first.serving():
                return handler(*arguments, **keywords)

        return served

    # ------------------------------------------------------------------ layout
    def page_config(self) -> dict:
        """What the page needs to know of the session (JSON; every name is shown as text), with the rules
        it applies as a person composes an answer and how it reads an edited text back (as the service does)."""
        rules = answer_rules(len(self.class_names), self.service.session.config.max_directions)
        return {"dataset": self.dataset.name, "classes": self.class_names, "is_text": self.is_text,
                "rules": {**rules, "shown_as": [list(pair) for pair in SHOWN_AS]}}

    def build(self) -> gr.Blocks:
        html, css = ((PAGE / name).read_text(encoding="utf-8") for name in ("page.html", "page.css"))
        js = "\n".join((PAGE / name).read_text(encoding="utf-8") for name in PAGE_SCRIPTS)
        functions = [page_function(name, handler) for name, handler in (
            ("nudge_begin", self._first(self.page_begin)), ("nudge_answer", self._first(self.page_answer)),
            ("nudge_skip", self._first(self.page_skip)), ("nudge_undo", self._first(self.page_undo)),
            ("nudge_status", self.page_status), ("nudge_explain", self.page_explain),
            ("nudge_predict", self.page_predict))]
        with Blocks(title=PAGE_TITLE) as demo:
            page = gr.HTML(None, html_template=html, css_template=css, js_on_load=js, server_functions=functions,
                           elem_id="nudge-page", config=self.page_config())
            demo.load(self.open_tab, None, page, show_progress="hidden", api_name="ui_open",
                      api_visibility="private")
            gr.api(self.api_next, api_name="next")
            gr.api(self.api_submit, api_name="submit")
            gr.api(self.api_skip, api_name="skip")
            gr.api(self.api_undo, api_name="undo")
            gr.api(self.api_status, api_name="status")
            gr.api(self.api_standing, api_name="standing")
            gr.api(self.api_team, api_name="team")
            gr.api(self.api_resolve, api_name="resolve")
            # the help calls: a group of their own, so however many wait, the annotators' calls are served
            gr.api(self.api_explain, api_name="explain", concurrency_id="help", concurrency_limit=HELP_HANDLERS)
            gr.api(self.api_predict_text, api_name="predict_text", concurrency_id="help",
                   concurrency_limit=HELP_HANDLERS)
        TeamPage(self.team, self.lead, self.class_names).add_to(demo)
        return demo

    def close(self) -> None:
        """Stop preparing queries and highlights (the session and its store stay open)."""
        self.tabs.close()
        self.explainer.close()


def launch_app(demo: gr.Blocks, **launch_options) -> gr.Blocks:
    """Queue ``demo`` for several annotators at once and launch it.

    ``launch_options`` go to ``gr.Blocks.launch`` (server_name, server_port, auth,
    prevent_thread_lock, ...). Returns the launched demo.
    """
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT)
    app_kwargs = with_unknown_components_refused(launch_options.pop("app_kwargs", None))
    demo.launch(app_kwargs=app_kwargs, **launch_options)
    return demo
