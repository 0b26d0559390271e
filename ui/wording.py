"""What the page says in words: the status line, how the accuracy was measured, an undone answer brought back."""

from __future__ import annotations

from collections import Counter


def status_line(status: dict, standing: dict | None) -> str:
    """The page's one status line: the answers, the caller's standing, the model and how it is measured."""
    training = "retraining…" if status["retraining"] else "up to date"
    yours = "enter your name" if standing is None else f"yours {standing['labels']}"
    if standing is not None and standing["agreement"] is not None:
        yours += f", {standing['agreement']:.0%} agreeing with others on shared items"
    problem = "" if status["model_problem"] is None else f" · note: {status['model_problem']}"
    return (f"Answers {status['n_answers']} ({yours}) · skips {status['n_skips']} · "
            f"model v{status['model_version']} ({training}) trained on {status['n_labeled']} labels and "
            f"{status['n_directions']} directions · {accuracy_text(status['evaluation'])} · "
            f"strategy {status['strategy']} · loss {status['loss'] or 'n/a'}{problem}")


def accuracy_text(evaluation: dict) -> str:
    """The status line's accuracy, saying how it was measured: "accuracy 81.0% (cross-validated on 40 answers)"."""
    if evaluation["accuracy"] is None:
        return "accuracy n/a"
    if evaluation["kind"] == "cross-validated":
        return f"accuracy {evaluation['accuracy']:.1%} (cross-validated on {evaluation['n']} answers)"
    return f"held-out accuracy {evaluation['accuracy']:.1%} (on {evaluation['n']} test items)"


def measured_as(kind: str) -> str:
    """What the progress plot shows, in words."""
    return "accuracy cross-validated on the answers" if kind == "cross-validated" else "held-out accuracy"


def undo_message(point_id: int, restored: dict, sources: list[str], *, again: bool = False) -> str:
    """What the page says of an undone answer brought back (``again``: shown again after a reload)."""
    words = {"arrow": ("arrow", "arrows"), "towards-example": ("example", "examples"),
             "rewrite": ("rewrite", "rewrites"),
             "api": ("direction given over the API", "directions given over the API")}
    parts = [f"label {restored['label']}"]
    for source, count in Counter(sources).items():
        singular, plural = words.get(source, (source, source))
        parts.append(f"{count} {singular if count == 1 else plural}")
    note = " (not shown here)" if restored["other_directions"] else ""
    undid = f"Your undone answer to point {point_id} is back" if again else f"Undid your answer to point {point_id}"
    return f"{undid} ({', '.join(parts)}{note}): correct it and submit again"
