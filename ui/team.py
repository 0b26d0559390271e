"""The lead's page, ``/team`` (``nudge serve --auth ... --lead NAME``): each annotator's progress and
agreement, the pairs, and the disagreements with both answers and the item, with the review form
(accept one answer, or relabel). Only the lead's login sees the numbers; others are told whose page
it is. Presentation only: the numbers and the review are :class:`nudge.loop.service.team.Team`'s.
"""

from __future__ import annotations

import html

import gradio as gr

from nudge.loop.errors import SessionError, StoreError
from nudge.loop.service.team import Team

PERCENT_FIELDS = {"share_equal", "agreement_with_others", "agreement_with_model", "directions_model_agreed"}
ANNOTATOR_COLUMNS = (("annotator", "annotator"), ("labels", "labels"), ("skips", "skips"),
                     ("median_seconds", "median s / answer"), ("agreement_with_others", "agrees with others"),
                     ("direction_cosine_with_others", "direction cosine with others"),
                     ("agreement_with_model", "agrees with the model"),
                     ("directions_model_agreed", "directions the model already agreed with"))
PAIR_COLUMNS = (("annotators", "pair"), ("n_items", "shared items"), ("share_equal", "equal labels"),
                ("kappa", "Cohen's kappa"), ("direction_cosine", "direction cosine"))


def check_lead(lead: str | None, login: str | None) -> str:
    """The lead's name when ``login`` is the lead; a SessionError saying why not otherwise."""
    if lead is None:
        raise SessionError("this server has no lead: start it with --auth NAME:PASSWORD --lead NAME")
    if login != lead:
        raise SessionError(f"only the lead ({lead}) sees the team's numbers and resolves disagreements")
    return lead


def login_of(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


class TeamPage:
    """The ``/team`` route of the app (see the module docstring)."""

    def __init__(self, team: Team, lead: str | None, class_names: list[str]) -> None:
        self.team = team
        self.lead = lead
        self.class_names = class_names

    def add_to(self, demo: gr.Blocks) -> None:
        """Add the page to ``demo`` (outside its ``with`` block), at /team, not in the navigation bar."""
        with demo.route("Team", "team", show_in_navbar=False):
            gr.HTML('<p><a href="./">annotate</a> · <a href="logout">log out</a></p>')
            view = gr.HTML(elem_id="team-view")
            with gr.Row():
                point = gr.Number(label="point id", precision=0, elem_id="review-point")
                accept = gr.Number(label="accept the answer with id", precision=0, elem_id="review-accept")
                label = gr.Dropdown(self.class_names, value=None, label="or relabel as", elem_id="review-label")
            with gr.Row():
                resolve = gr.Button("Resolve", variant="primary", elem_id="review-resolve")
                refresh = gr.Button("Refresh", elem_id="team-refresh")
            message = gr.Markdown(elem_id="review-message")
            demo.load(self.view, None, view, api_visibility="private")
            refresh.click(self.view, None, view, api_visibility="private")
            resolve.click(self.review, [point, accept, label], [message, view], api_visibility="private")

    def view(self, request: gr.Request = None) -> str:
        try:
            check_lead(self.lead, login_of(request))
        except SessionError as error:
            return f"<p>{html.escape(str(error))}</p>"
        return render(self.team.report())

    def review(self, point, accept, label, request: gr.Request = None) -> tuple[str, str]:
        try:
            lead = check_lead(self.lead, login_of(request))
            if point is None:
                raise SessionError("give the point id of the disagreement to resolve")
            done = self.team.resolve(lead, point, accept=accept, label=None if accept is not None else label)
        except (SessionError, StoreError) as error:
            return str(error), self.view(request)
        return f"point {done['point_id']} resolved as {done['label']} by {done['resolved_by']}", self.view(request)


def render(report: dict) -> str:
    """The lead's view as HTML tables (every name and text escaped)."""
    overlap, overall = report["overlap"], report["overall"]
    if overlap["share"] or overlap["every"]:
        given = f"{overlap['share']:.0%} of the items" if overlap["share"] else f"every {overlap['every']}th item"
        setting = f"{given} go to {overlap['annotators_per_item']} annotators"
    else:
        setting = "no overlap: start a session with --overlap 0.1 to measure agreement"
    parts = [f"<h2>The team</h2><p>{html.escape(setting)} · {overall['shared_items']} shared items · "
             f"equal labels {_cell('share_equal', overall['share_equal'])} · "
             f"Krippendorff's alpha {_cell('alpha', overall['alpha'])} · "
             f"direction cosine {_cell('direction_cosine', overall['direction_cosine'])}</p>",
             _table(ANNOTATOR_COLUMNS, report["annotators"], "team-annotators"),
             _table(PAIR_COLUMNS, [{**pair, "annotators": " & ".join(pair["annotators"])} for pair in report["pairs"]],
                    "team-pairs"),
             f"<h3>Disagreements waiting for review ({len(report['disagreements'])})</h3>"]
    for item in report["disagreements"]:
        shown = item.get("text") or ", ".join(f"{name} = {value:.4g}" for name, value in item["features"].items())
        answers = "".join(f"<li>answer {a['answer_id']}: {html.escape(a['annotator'])} said "
                          f"<b>{html.escape(a['label'])}</b> ({a['directions']} directions)"
                          + (f", rewrite: <i>{html.escape(a['rewrite'])}</i>" if a["rewrite"] else "") + "</li>"
                          for a in item["answers"])
        parts.append(f"<div class='disagreement' data-point='{item['point_id']}'><p>point {item['point_id']} "
                     f"(item {html.escape(str(item['item_id']))}): {html.escape(shown)}</p><ul>{answers}</ul>"
                     f"<p>direction cosine {_cell('direction_cosine', item['direction_cosine'])}</p></div>")
    return "\n".join(parts)


def _table(columns, rows: list[dict], elem_id: str) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(key, row[key])}</td>" for key, _ in columns) + "</tr>" for row in rows)
    return f"<table id='{elem_id}'><tr>{head}</tr>{body}</table>"


def _cell(key: str, value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0%}" if key in PERCENT_FIELDS else f"{value:.2f}"
    return html.escape(str(value))
