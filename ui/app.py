"""The Gradio annotation UI: a thin layer over :class:`loop.service.AnnotationService`.

Each browser tab keeps its own state (the current query, the arrow drawn so
far, the annotator). Every handler calls the service and turns its errors into
a visible warning; what the annotator entered stays on screen, so nothing is
lost when an answer is refused.

Named API endpoints for scripted clients (gradio_client): ``/next``,
``/submit``, ``/skip``, ``/undo``, ``/status``. Launch with :func:`launch_app`
(queue for several annotators at once, keyboard shortcuts).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import gradio as gr
import numpy as np
import pandas as pd

from loop.service import AnnotationService
from loop.session import Query, SessionError
from loop.store import StoreError
from ui.plot import ClickOutsidePlot, PlotGeometry, render_projection

SHORTCUTS_JS = """
() => {
  document.addEventListener('keydown', (event) => {
    const target = event.target;
    const typing = target.tagName === 'TEXTAREA' || target.isContentEditable
      || (target.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit'].includes(target.type));
    const click = (id) => { const b = document.getElementById(id); if (b) b.click(); };
    if (typing) {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { click('submit-button'); event.preventDefault(); }
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      const options = document.querySelectorAll('#label-choice input[type=radio]');
      const option = options[Number(event.key) - 1];
      if (option) { option.click(); event.preventDefault(); }
    } else if (event.key === 'Enter') { click('submit-button'); event.preventDefault(); }
    else if (event.key === 's') { click('skip-button'); }
    else if (event.key === 'u') { click('undo-button'); }
    else if (event.key === 'c' || event.key === 'Escape') { click('clear-button'); }
  });
}
"""

USER_ERRORS = (SessionError, StoreError, ClickOutsidePlot, ValueError)
HTML_BREAK = "<br />"  # IMDb reviews (and so the CAD data) break lines with HTML


def readable(text: str) -> str:
    """A text as an annotator should read it: HTML line breaks shown as line breaks."""
    return text.replace(HTML_BREAK, "\n")


def as_written_in(edited: str, original: str) -> str:
    """An edited :func:`readable` text back in the original's conventions, so its embedding
    differs from the original's only where the annotator changed the words."""
    return edited.replace("\n", HTML_BREAK) if HTML_BREAK in original else edited
CONCURRENCY_LIMIT = 8  # requests served at once (several annotators, API clients)


@dataclass(frozen=True)
class TabState:
    """What one browser tab is doing: its annotator, query and arrow."""

    annotator: str = ""
    query_id: str | None = None
    point_id: int | None = None
    arrow: tuple[float, float] | None = None
    geometry: PlotGeometry | None = None


def client_address(request: gr.Request | None) -> str | None:
    """The address of the browser or client that made the request (behind a local proxy: the one
    the proxy forwards, as uvicorn reads X-Forwarded-For from 127.0.0.1)."""
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)


def annotator_name(typed: str, request: gr.Request | None) -> str:
    """The login name when there is one, else the name the annotator typed."""
    username = getattr(request, "username", None) if request is not None else None
    if username:
        return username
    name = (typed or "").strip()
    if not name:
        raise SessionError("enter your name (top of the page) before annotating")
    return name


class AnnotationApp:
    """Builds the Blocks app around one service."""

    def __init__(self, service: AnnotationService) -> None:
        self.service = service
        self.dataset = service.session.dataset
        self.class_names = list(self.dataset.class_names)
        self.is_text = self.dataset.texts is not None

    # ------------------------------------------------------------- rendering
    def _view(self, state: TabState, query: Query | None):
        """Outputs for a newly shown query: image, text, prediction, towards choices, rewrite, state.

        The arrow and the "towards" choice of the previous query are cleared.
        """
        state = replace(state, arrow=None)
        if query is None:
            empty = np.full((8, 8, 3), 255, dtype=np.uint8)
            return (empty, "", "**Nothing left to annotate** in this pool. Thank you!",
                    gr.update(choices=[], value=None), "",
                    replace(state, query_id=None, point_id=None, geometry=None))
        state = replace(state, query_id=query.query_id, point_id=query.point_id)
        image, projection, state = self._picture(state, query)
        text = readable(query.text or "")
        return (image, text, self._prediction_markdown(query),
                gr.update(choices=self._towards_choices(projection, query.prediction), value=None), text, state)

    def _picture(self, state: TabState, query: Query, towards: int | None = None):
        """(image, projection, state): the query's projection with the tab's arrow and "towards" point.

        The state remembers the geometry of this very image, so the next click is
        read in the axes the annotator sees.
        """
        projection = self.service.projection(query)
        generator = getattr(self.dataset, "generator", None)
        image = render_projection(
            projection, self.class_names, arrow=state.arrow,
            truth=generator.truth if generator is not None and projection.is_data_plane else None,
            towards=towards,
        )
        return image, projection, replace(state, geometry=PlotGeometry.of(projection))

    def _prediction_markdown(self, query: Query) -> str:
        where = f"Point **{query.point_id}**"
        if self.dataset.n_features == 2:
            where += f" at ({query.x[0]:.2f}, {query.x[1]:.2f})"
        if query.probabilities is None:
            return f"{where} · no model yet"
        predicted = self.class_names[query.prediction]
        confidence = float(np.max(query.probabilities))
        return f"{where} · model says **{predicted}** ({confidence:.0%} sure)"

    def _towards_choices(self, projection, own: int | None) -> list[tuple[str, int]]:
        """Shown points of another class than ``own`` (the label, else the prediction), nearest first (at most 12)."""
        candidates = [
            (float(np.hypot(*c)), int(i), int(k), bool(lab))
            for i, c, k, lab in zip(projection.point_ids, projection.coordinates,
                                    projection.classes, projection.labelled)
            if k >= 0 and k != own
        ]
        choices = []
        for _, point_id, klass, labelled in sorted(candidates)[:12]:
            name = self.class_names[klass]
            kind = "labelled" if labelled else "predicted"
            snippet = ""
            if self.is_text:
                snippet = ": " + readable(self.dataset.texts[point_id])[:70].replace("\n", " ") + "…"
            choices.append((f"#{point_id} ({kind} {name}){snippet}", point_id))
        return choices

    def _status_markdown(self) -> str:
        status = self.service.status()
        accuracy = "n/a" if status["accuracy"] is None else f"{status['accuracy']:.1%}"
        training = "retraining…" if status["retraining"] else "up to date"
        return (f"Answers {status['n_answers']} · skips {status['n_skips']} · "
                f"model v{status['model_version']} ({training}) trained on {status['n_labeled']} labels and "
                f"{status['n_directions']} directions · held-out accuracy {accuracy} · "
                f"strategy **{status['strategy']}** · loss **{status['loss']}**")

    def _history(self) -> pd.DataFrame:
        rows = self.service.session.store.evaluation_history(self.service.session.session_id)
        rows = [r for r in rows if r["accuracy"] is not None]
        return pd.DataFrame({"labels": [r["n_labeled"] for r in rows],
                             "accuracy": [r["accuracy"] for r in rows]})

    # -------------------------------------------------------------- handlers
    def start(self, typed_name: str, state: TabState, request: gr.Request):
        """Page load, "Start / next" or a new name: the tab's (new) annotator and their query.

        Without a login or a typed name, each tab gets its own guest name (shown in
        the name box), so two people never share one annotator's queries.
        """
        typed = (typed_name or "").strip() or f"guest-{secrets.token_hex(3)}"
        annotator = annotator_name(typed, request)
        try:
            query = self.service.next_query(annotator, client=client_address(request))
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None
        return self._view(TabState(annotator=annotator), query) + (annotator,)

    def click(self, towards: int | None, state: TabState, event: gr.SelectData):
        """A click on the picture: the arrow from the query to the click (not stored until submit)."""
        if state.query_id is None or state.geometry is None:
            raise gr.Error("no query to draw on yet")
        try:
            if event.index is None:  # Gradio reports no pixel for a click beside the image
                raise ClickOutsidePlot("that click was outside the plot: click inside the picture")
            a, b = state.geometry.to_plane(*event.index[:2])
        except ClickOutsidePlot as error:
            gr.Warning(str(error))
            return gr.skip(), state
        state = replace(state, arrow=(a, b))
        image, _, state = self._picture(state, self.service.session.query(state.query_id), towards)
        return image, state

    def clear_direction(self, state: TabState):
        """Forget the drawn arrow and the "towards" choice."""
        if state.query_id is None:
            return gr.skip(), None, state
        state = replace(state, arrow=None)
        image, _, state = self._picture(state, self.service.session.query(state.query_id))
        return image, None, state

    def towards_for_label(self, label: str | None, towards: int | None, state: TabState):
        """Once a label is chosen, offer examples of the classes other than the label.

        An example already chosen stays if it is still offered; otherwise it is
        dropped, and its mark with it.
        """
        if state.query_id is None or label not in self.class_names:
            return gr.skip(), gr.skip(), state
        query = self.service.session.query(state.query_id)
        choices = self._towards_choices(self.service.projection(query), self.class_names.index(label))
        if towards is None or towards in {point for _, point in choices}:
            return gr.update(choices=choices), gr.skip(), state
        image, _, state = self._picture(state, query)
        return gr.update(choices=choices, value=None), image, state

    def show_towards(self, towards: int | None, state: TabState):
        """Mark the chosen example (with the arrow, if any) on the picture."""
        if state.query_id is None:
            return gr.skip(), state
        image, _, state = self._picture(state, self.service.session.query(state.query_id), towards)
        return image, state

    def submit(self, label: str | None, towards: int | None, rewrite: str, state: TabState):
        if state.query_id is None:
            raise gr.Error("there is no query to answer")
        if label is None:
            raise gr.Error("choose a label first (keys 1, 2, …)")
        original = self.dataset.texts[state.point_id] if self.is_text else ""
        rewritten = as_written_in(rewrite, original) if self.is_text and rewrite.strip() else None
        if rewritten is not None and rewritten.strip() == original.strip():
            rewritten = None  # the copy left as it was: no direction
        try:
            self.service.submit(state.query_id, label, annotator=state.annotator, plane_point=state.arrow,
                                towards=towards, rewrite=rewritten)
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None
        return self._next(state)

    def skip(self, state: TabState):
        if state.query_id is None:
            raise gr.Error("there is no query to skip")
        try:
            self.service.skip(state.query_id, annotator=state.annotator)
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None
        return self._next(state)

    def undo(self, state: TabState):
        if not state.annotator:
            raise gr.Error("nothing to undo yet")
        try:
            query = self.service.undo(state.annotator)
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None
        if query is None:
            gr.Info("nothing to undo")
            return (gr.skip(),) * 5 + (state, gr.skip())
        return self._view(state, query) + (None,)

    def _next(self, state: TabState):
        return self._view(state, self.service.next_query(state.annotator)) + (None,)

    # ------------------------------------------------------------ API handlers
    def api_next(self, annotator: str = "", request: gr.Request = None) -> dict:
        """Hand the caller a query: JSON with query_id, point_id, x, text, prediction and projection."""
        try:
            return self.service.describe(self.service.next_query(annotator_name(annotator, request),
                                                                 client=client_address(request))) or {}
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None

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
        try:
            name = annotator_name(annotator, request)
            self.service.submit(query_id, label, annotator=name, direction=direction, plane_point=plane,
                                towards=towards, rewrite=rewrite)
            return self.service.describe(self.service.next_query(name, client=client_address(request))) or {}
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None

    def api_skip(self, query_id: str, annotator: str = "", request: gr.Request = None) -> dict:
        """Pass on a query; returns the next one."""
        try:
            name = annotator_name(annotator, request)
            self.service.skip(query_id, annotator=name)
            return self.service.describe(self.service.next_query(name, client=client_address(request))) or {}
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None

    def api_undo(self, annotator: str = "", request: gr.Request = None) -> dict:
        """Undo the caller's last answer; returns its point as a query again (empty if nothing to undo)."""
        try:
            return self.service.describe(self.service.undo(annotator_name(annotator, request),
                                                           client=client_address(request))) or {}
        except USER_ERRORS as error:
            raise gr.Error(str(error)) from None

    def api_status(self) -> dict:
        """Session counts, model version, retraining flag, accuracy, strategy and loss."""
        return self.service.status()

    # ----------------------------------------------------------------- layout
    def build(self) -> gr.Blocks:
        status = self.service.status()
        with gr.Blocks(title="nudge: annotate with directions") as demo:
            state = gr.State(TabState())
            gr.Markdown(f"## nudge · {status['dataset']}\nLabel the point (★). Optionally show where its class "
                        "would flip: click on the picture to draw an arrow, pick an example to move towards"
                        + (", or rewrite the text with the other label" if self.is_text else "") + ".")
            with gr.Row():
                name = gr.Textbox(label="Your name", placeholder="your name (a guest name is made up if empty)",
                                  scale=2, elem_id="annotator-name")
                start = gr.Button("Start / next", scale=1, elem_id="start-button")
            status_line = gr.Markdown(self._status_markdown(), elem_id="status-line")
            with gr.Row():
                with gr.Column(scale=3):
                    prediction = gr.Markdown(elem_id="prediction")
                    text = gr.Textbox(label="Text", lines=8, max_lines=20, interactive=False,
                                      visible=self.is_text, elem_id="query-text")
                    image = gr.Image(label="Local boundary projection (click to draw a direction)",
                                     show_label=False, interactive=False, type="numpy", elem_id="projection",
                                     buttons=["fullscreen"])
                with gr.Column(scale=2):
                    label = gr.Radio([(f"{i + 1} · {n}", n) for i, n in enumerate(self.class_names)],
                                     label="Label (keys 1, 2, …)", elem_id="label-choice")
                    clear = gr.Button("Clear direction (c)", elem_id="clear-button", size="sm")
                    towards = gr.Dropdown([], label="…or towards this example of the other class",
                                          elem_id="towards-choice", allow_custom_value=False)
                    rewrite = gr.Textbox(label="…or rewrite the text with the other label (edit below)",
                                         lines=6, visible=self.is_text, elem_id="rewrite")
                    with gr.Row():
                        submit = gr.Button("Submit (Enter)", variant="primary", elem_id="submit-button")
                        skip = gr.Button("Skip (s)", elem_id="skip-button")
                        undo = gr.Button("Undo last (u)", elem_id="undo-button")
            with gr.Accordion("Progress", open=True):
                progress_plot = gr.LinePlot(self._history(), x="labels", y="accuracy", y_lim=[0, 1],
                                            x_title="labels", y_title="held-out accuracy", height=260,
                                            title="held-out accuracy", elem_id="progress-plot")
            view = [image, text, prediction, towards, rewrite, state]
            # UI events get "ui_" names (private), so none takes a public endpoint's name
            def private(event: str) -> dict:
                return {"api_name": f"ui_{event}", "api_visibility": "private"}

            for trigger, event in ((start.click, "start"), (name.submit, "start_name"), (demo.load, "load")):
                trigger(self.start, [name, state], view + [name], **private(event))
            image.select(self.click, [towards, state], [image, state], **private("click"))
            clear.click(self.clear_direction, [state], [image, towards, state], **private("clear"))
            towards.input(self.show_towards, [towards, state], [image, state], **private("towards"))
            label.input(self.towards_for_label, [label, towards, state], [towards, image, state], **private("label"))
            answer_outputs = view + [label]
            submit.click(self.submit, [label, towards, rewrite, state], answer_outputs, **private("submit"))
            skip.click(self.skip, [state], answer_outputs, **private("skip"))
            undo.click(self.undo, [state], answer_outputs, **private("undo"))
            timer = gr.Timer(2.0)
            timer.tick(lambda: (self._status_markdown(), self._history()), None,
                       [status_line, progress_plot], show_progress="hidden", **private("tick"))
            gr.api(self.api_next, api_name="next")
            gr.api(self.api_submit, api_name="submit")
            gr.api(self.api_skip, api_name="skip")
            gr.api(self.api_undo, api_name="undo")
            gr.api(self.api_status, api_name="status")
        return demo


def build_app(service: AnnotationService) -> gr.Blocks:
    """The annotation UI for a service (serve it with :func:`launch_app`)."""
    return AnnotationApp(service).build()


def launch_app(demo: gr.Blocks, **launch_options) -> gr.Blocks:
    """Queue ``demo`` for several annotators at once and launch it with the keyboard shortcuts.

    ``launch_options`` go to ``gr.Blocks.launch`` (server_name, server_port, auth,
    prevent_thread_lock, ...). Returns the launched demo.
    """
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT)
    demo.launch(js=SHORTCUTS_JS, **launch_options)
    return demo
