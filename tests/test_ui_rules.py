"""One copy of the answer rules: the page gets them as data with its config (nudge.loop.session.answers
.answer_rules, nudge.loop.service.texts.SHOWN_AS) and its scripts hold no copy of them; the service
refuses a rewrite exactly when it is no rewrite by that rule. tests/test_ui_page.py pins the page's
reading of the same cases in a real browser."""

import re
import sys

import numpy as np
import pytest
from test_ui_api import WordCountEncoder

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.errors import SessionError
from nudge.loop.service.service import AnnotationService
from nudge.loop.service.texts import HTML_BREAK, SHOWN_AS, is_rewrite, readable
from nudge.loop.session import answers
from nudge.loop.session.answers import SPACES, UNCHANGED_REWRITE, answer_rules, same_text, who_annotates
from nudge.loop.session.session import Session
from nudge.loop.store.limits import blank_pattern
from nudge.loop.store.store import Store
from nudge.ui.app import PAGE, PAGE_SCRIPTS, AnnotationApp

SESSION = "rules"
# Characters JavaScript's String.trim and Python's str.strip disagree on (the page used trim before).
ONLY_PYTHON_STRIPS = "\x1c\x1d\x1e\x1f\x85"
ONLY_JAVASCRIPT_TRIMS = "\ufeff"


def rewrite_edits(readable_text: str) -> list[str]:
    """Edits of a text as the page shows it (line breaks for <br />), each a rewrite or not by the rule,
    with the cases where String.trim, or comparing the stored forms, would read them otherwise."""
    first_break = readable_text.index("\n")
    return [
        readable_text,
        readable_text + "  ",
        "\n" + readable_text + "\n",  # a line break after a <br /> text: "<br />" once stored, no rewrite either
        readable_text + ONLY_PYTHON_STRIPS,
        "\u3000" + readable_text + "\xa0",
        ONLY_JAVASCRIPT_TRIMS + readable_text,
        readable_text[:first_break] + HTML_BREAK + readable_text[first_break + 1:],  # the break typed as stored
        readable_text.upper(),
        readable_text + " and great fun",
        "",
    ]


def text_with_breaks_session(tmp_path) -> Session:
    """Reviews with IMDb's <br /> line breaks, embedded by a word counter (no model to load)."""
    texts = [f"review {i}:<br /><br />the film was {'great fun' if i % 2 else 'awful and boring'}" for i in range(20)]
    encoder = WordCountEncoder()
    dataset = Dataset("reviews", encoder.encode(texts), np.arange(20) % 2, ["Negative", "Positive"],
                      np.arange(16), np.arange(16, 20), texts=texts)
    config = SessionConfig(dataset="reviews", estimator={"max_epochs": 5}, retrain_every=10**6)
    return Session.create(Store(tmp_path / "rules.db"), config, session_id=SESSION, dataset=dataset, encoder=encoder)


def test_the_spaces_set_aside_are_exactly_those_str_strip_removes():
    assert SPACES == "".join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
    assert (ONLY_PYTHON_STRIPS + "x" + ONLY_JAVASCRIPT_TRIMS).strip(SPACES) == "x" + ONLY_JAVASCRIPT_TRIMS
    assert same_text(" good\x85", "good") and not same_text("\ufeffgood", "good")
    assert who_annotates(None, "\x85ann\u3000") == "ann"
    with pytest.raises(SessionError, match=re.escape(answers.NAME_NEEDED)):
        who_annotates(None, "\x1c \x85")


def test_the_page_gets_the_rules_as_data_with_its_config(tmp_path):
    session = text_with_breaks_session(tmp_path)
    app = AnnotationApp(AnnotationService(session))
    try:
        rules = app.page_config()["rules"]
        assert rules == {**answer_rules(2, session.config.max_directions), "shown_as": [["<br />", "\n"]]}
        assert rules == {"max_directions": 4, "asks_targets": False, "spaces": SPACES, "blank": blank_pattern(),
                         "max_name_chars": answers.MAX_ANNOTATOR_CHARS, "name_needed": answers.NAME_NEEDED,
                         "shown_as": [list(pair) for pair in SHOWN_AS]}
        assert [answer_rules(n, 1)["asks_targets"] for n in (2, 3, 10)] == [False, True, True]
    finally:
        app.close()
        session.close()
        session.store.close()


def test_the_service_refuses_a_rewrite_exactly_when_it_is_no_rewrite(tmp_path):
    """Over the API's path (the page's too): "the same as the text" exactly for the edits is_rewrite
    reads as none, whatever form of the line breaks they hold."""
    session = text_with_breaks_session(tmp_path)
    service = AnnotationService(session)
    try:
        query, verdicts = session.next_query("ann"), []
        for case in range(len(rewrite_edits("a\nb"))):
            text = session.dataset.texts[query.point_id]
            edit = rewrite_edits(readable(text))[case]
            try:
                service.submit(query.query_id, "Negative", annotator="ann", rewrite=edit)
            except SessionError as error:
                verdicts.append((str(error) != UNCHANGED_REWRITE, is_rewrite(edit, text)))
                continue
            verdicts.append((True, is_rewrite(edit, text)))  # taken: the next edit answers a new query
            query = session.next_query("ann")
        assert [taken for taken, _ in verdicts] == [rule for _, rule in verdicts]
        assert [rule for _, rule in verdicts] == [False, False, False, False, False, True, False, True, True, True]
    finally:
        session.close()
        session.store.close()


def test_the_page_scripts_are_every_file_of_the_page_once_with_the_wiring_last():
    assert sorted(PAGE_SCRIPTS) == sorted(path.name for path in PAGE.glob("*.js"))
    assert PAGE_SCRIPTS[-1] == "main.js"
    for name in PAGE_SCRIPTS[:-1]:  # each module is one function, called by the wiring only
        defined = re.findall(r"^function (\w+)\(", (PAGE / name).read_text(), re.MULTILINE)
        assert len(defined) == 1 and f"{defined[0]}(" in (PAGE / "main.js").read_text(), name


def test_the_page_scripts_hold_no_copy_of_an_answer_rule():
    script = "\n".join((PAGE / name).read_text() for name in PAGE_SCRIPTS)
    html = (PAGE / "page.html").read_text()
    for copy in (answers.NAME_NEEDED, UNCHANGED_REWRITE, HTML_BREAK, "<br"):
        assert copy not in script
    assert "maxlength" not in html.lower() and "maxLength = rules.max_name_chars" in script
    assert not re.search(r"\bC\s*[<>]=?\s*2\b|\blength\s*[<>]=?\s*2\b", script)  # asks_targets is the rule's
    # the one trim left reads a CSS value; a typed text is stripped with the server's spaces
    assert re.findall(r"^.*\.trim\(\).*$", script, re.MULTILINE) == [
        "    const value = getComputedStyle(root).getPropertyValue(name).trim();"]
