"""Help for writing a counterfactual: word highlights of a text and a live reading of its rewrite.

:class:`Explainer` serves a text session's two helps (issue 14), as JSON-ready dicts:

- :meth:`Explainer.explain` (a query id) and :meth:`Explainer.explain_point` (a pool point):
  the text's words with a weight per class, attributions through the sentence model into the
  current classifier (:mod:`nudge.estimators.attribution`);
- :meth:`Explainer.predict_text`: the classifier's probabilities for any text and, for a
  rewrite of a query's text, whether it now reads as another class, the word-level diff and
  a warning when the rewrite is unchanged or changes nothing the model reads.

Highlights take a forward pass of the sentence model per review and, by occlusion (the
default), one embedding per word left out (integrated gradients, if chosen, several forward
and backward passes); a text's reading takes one more, so both are computed
off the answer path: on one worker thread (so simultaneous requests queue instead of taking the
cores the annotators' requests need), highlights each (model version, point) once, kept in a
small cache. How many calls one client may have waiting is bounded by the caller
(:mod:`nudge.loop.service.help_limits`). :meth:`Explainer.prefetch`
starts one without waiting, e.g. as a query is handed out; nothing the session does waits
for them. Drafts of a rewrite are embedded without being stored in the embedding cache.

Bad input (empty, huge or NUL-holding text, unknown query, a data set without texts, no
trained model yet) is refused with a :class:`nudge.loop.errors.SessionError` and a one-line reason.
"""

from __future__ import annotations

import difflib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import numpy as np

from nudge.estimators.attribution import (
    HiddenStateAttributor,
    OcclusionAttributor,
    SentenceAttributor,
    WordAttributions,
    word_spans,
)
from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.errors import SessionError
from nudge.loop.service.texts import as_written_in, readable, readable_spans
from nudge.loop.session.answers import check_text, same_text
from nudge.loop.session.session import Session
from nudge.loop.store.limits import quoted
from nudge.loop.training.snapshot import ModelSnapshot

# Chosen on the CAD dev split by bench/bench_highlights.py (bench/README.md, "Highlights"). With
# MiniLM, hidden-state shares matched 8-step integrated gradients at a tenth of the cost; with
# e5-small (200 labels) leaving out the 24 words the hidden-state shares rank highest and
# re-embedding found the changed words more often (precision@5 41.5% against 34.0% on 40 dev
# pairs; +13.0 +- 9.2 points paired on 20), as often as leaving every word out, at about ten
# times the hidden-state shares' cost (26 embeddings a review), still off the answer path.
OCCLUSION_SHORTLIST = 24  # words left out (and texts embedded) per review by the page's highlights


def hidden_state_shares(encoder: SentenceEncoder) -> SentenceAttributor:
    """Each word's share of the class score through the encoder's last hidden states (one forward pass)."""
    return HiddenStateAttributor(encoder.sentence_model(), head=encoder.logits_through_model)


def occlusion(encoder: SentenceEncoder, shortlist: int | None = OCCLUSION_SHORTLIST) -> SentenceAttributor:
    """Leave each of the ``shortlist`` words with the largest hidden-state shares out (every word: None)
    and embed the text again with the encoder: one embedding per word left out."""
    return OcclusionAttributor(encoder.sentence_model(), encoder.embed_uncached, shortlist=shortlist,
                               head=encoder.logits_through_model)


DEFAULT_ATTRIBUTOR = occlusion
CACHE_SIZE = 256  # explained (model version, point) pairs kept
WAIT_SECONDS = 60.0
STOPPED = "the text help has stopped: the server is shutting down"


@dataclass(frozen=True)
class WordChange:
    """One difference between a text and its rewrite, in words: original words [i1, i2)
    became rewrite words [j1, j2); ``op`` is difflib's "replace", "delete" or "insert"."""

    op: str
    i1: int
    i2: int
    j1: int
    j2: int


def word_changes(original: str, rewrite: str) -> tuple[np.ndarray, np.ndarray, list[WordChange]]:
    """The word-level diff of two texts: (original's word spans (W, 2), rewrite's (W', 2), changes).

    Words as :func:`nudge.estimators.attribution.word_spans` finds them, compared case-blind
    (difflib, no junk heuristic), so spacing, punctuation, line breaks and case are not changes.
    """
    before, after = word_spans(original), word_spans(rewrite)
    left = [original[a:b].lower() for a, b in before]
    right = [rewrite[a:b].lower() for a, b in after]
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    changes = [WordChange(op, i1, i2, j1, j2) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]
    return before, after, changes


class Explainer:
    """Highlights and text predictions for a text session; see the module docstring.

    Parameters
    ----------
    session : a session over a text data set.
    encoder : the :class:`SentenceEncoder` the data set was embedded with (the model whose
        weights the attributions go through). Default: the session's
        (:meth:`nudge.loop.session.session.Session.text_encoder`), so the sentence model is loaded once.
    attributor : builds the attributor from the encoder, e.g. :func:`occlusion`, or
        ``lambda encoder: SentenceAttributor(encoder.sentence_model(), n_steps=8)`` for integrated
        gradients. Default :data:`DEFAULT_ATTRIBUTOR`.
    before_each : called on the worker before each job, e.g.
        :meth:`nudge.loop.service.help_limits.AnnotationsFirst.wait_turn` (help waits while annotators are served).
    """

    def __init__(self, session: Session, encoder: SentenceEncoder | None = None,
                 attributor: Callable[[SentenceEncoder], SentenceAttributor] = DEFAULT_ATTRIBUTOR,
                 before_each: Callable[[], None] | None = None) -> None:
        self.session = session
        self.encoder = encoder
        self.make_attributor = attributor
        self.before_each = before_each
        self._attributor: SentenceAttributor | None = None
        self._results: OrderedDict[tuple[int, int], dict] = OrderedDict()
        self._pending: dict[tuple[int, int], Future] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explain")

    def close(self) -> None:
        """Stop the worker (highlights being computed are finished first)."""
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _submit(self, job: Callable, *arguments) -> Future:
        """``job(*arguments)`` on the worker, after :attr:`before_each`; a SessionError once closed."""
        def run():
            if self.before_each is not None:
                self.before_each()
            return job(*arguments)

        try:
            return self._worker.submit(run)
        except RuntimeError:  # closed
            raise SessionError(STOPPED) from None

    # -------------------------------------------------------------- highlights
    def explain(self, query_id: str) -> dict:
        """The words of a query's text with their weight towards each class (current model).

        Returns {query_id, point_id, model_version, classes, text, readable_text, words: [{word,
        start, end, readable_span: [start, end], weights: [per class], read}], read_chars,
        unread_words, max_weight, probabilities, prediction, method, completeness_gap: [per class]}.
        ``start``/``end`` index ``text`` (the stored text, HTML line breaks included),
        ``readable_span`` indexes ``readable_text`` (line breaks as a person reads them);
        weights are log-odds changes, positive towards the class. Waits for the computation
        (by default a forward pass and one embedding per word left out, see :func:`occlusion`).
        """
        query = self.session.query(self._query_id(query_id))
        return {"query_id": query.query_id, **self.explain_point(query.point_id)}

    def explain_point(self, point_id: int) -> dict:
        """:meth:`explain` for any point of the data set by id (e.g. a candidate to move towards)."""
        # shared with every caller waiting for the same highlights: left running when one gives up
        return _waited(self._scheduled(self._point_id(point_id)), "the highlights", cancel_late=False)

    def prefetch(self, query_id: str) -> None:
        """Start explaining a query's text now, without waiting (errors are left for :meth:`explain`)."""
        try:
            self.prefetch_point(self.session.query(self._query_id(query_id)).point_id)
        except SessionError:
            pass

    def prefetch_point(self, point_id: int) -> None:
        """:meth:`prefetch` for a point of the data set (e.g. a query prepared but not yet handed out)."""
        try:
            self._scheduled(self._point_id(point_id))
        except SessionError:
            pass

    def _scheduled(self, point_id: int) -> Future:
        snapshot = self._trained_model()
        key = (snapshot.version, point_id)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                done: Future = Future()
                done.set_result(self._results[key])
                return done
            if key not in self._pending:
                self._pending[key] = self._submit(self._compute, snapshot, point_id)
            return self._pending[key]

    def _compute(self, snapshot: ModelSnapshot, point_id: int) -> dict:
        key = (snapshot.version, point_id)
        try:
            text = self.session.dataset.texts[point_id]
            result = self._attributor_for_model().attribute(text, snapshot.estimator.module_)
            described = self._describe(result, snapshot, point_id)
            with self._lock:
                self._results[key] = described
                while len(self._results) > CACHE_SIZE:
                    self._results.popitem(last=False)
            return described
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def _describe(self, result: WordAttributions, snapshot: ModelSnapshot, point_id: int) -> dict:
        names = self.session.dataset.class_names
        shown = readable_spans(result.text, result.spans).tolist()
        words = [
            {"word": word, "start": int(start), "end": int(end), "readable_span": span, "weights": weights.tolist(),
             "read": bool(read)}
            for word, (start, end), span, weights, read in zip(result.words, result.spans, shown, result.weights,
                                                               result.read)
        ]
        return {
            "point_id": point_id,
            "model_version": snapshot.version,
            "classes": names,
            "text": result.text,
            "readable_text": readable(result.text),
            "words": words,
            "read_chars": result.read_chars,
            "unread_words": int((~result.read).sum()),
            "max_weight": float(np.abs(result.weights).max(initial=0.0)),
            "probabilities": result.probabilities.tolist(),
            "prediction": names[int(np.argmax(result.probabilities))],
            "method": self._attributor_for_model().description,
            "completeness_gap": result.delta.tolist(),
        }

    # ---------------------------------------------------------------- predict
    def predict_text(self, text: str, query_id: str | None = None) -> dict:
        """The current model's reading of ``text``, and, with a query id, of it as a rewrite of that query.

        Returns {model_version, classes, probabilities, prediction}; with ``query_id`` also
        {query_id, original_prediction, flips (the prediction differs from the original text's),
        changes: [{op, original: [start, end], rewrite: [start, end], removed, added}]
        (character spans of the changed words in the stored text and in the rewrite as stored,
        and those words as a person reads them), changed_words, warning (None, or why the
        rewrite would teach nothing: unchanged, or changed only past what the model reads)}.
        A rewrite is read as a submitted one is: its line breaks become the original's HTML
        breaks (:func:`nudge.loop.service.texts.as_written_in`). The text is embedded without storing it in
        the embedding cache.
        """
        text = check_text(text)
        snapshot = self._trained_model()
        query = None if query_id is None else self.session.query(self._query_id(query_id))
        return _waited(self._submit(self._read, text, snapshot, query), "reading the text", cancel_late=True)

    def _read(self, text: str, snapshot: ModelSnapshot, query) -> dict:
        """:meth:`predict_text`'s work, on the worker thread."""
        if query is not None:
            text = as_written_in(text, query.text)
        attributor = self._attributor_for_model()  # loads the sentence model once, for both
        vector = self._text_encoder().encode_transient([text])
        probabilities = snapshot.learner.predict_proba(vector)[0]
        names = self.session.dataset.class_names
        reading = {
            "model_version": snapshot.version,
            "classes": names,
            "probabilities": probabilities.tolist(),
            "prediction": names[int(np.argmax(probabilities))],
        }
        if query is None:
            return reading
        original_prediction = int(np.argmax(snapshot.learner.predict_proba(query.x[None, :])[0]))
        return {**reading, "query_id": query.query_id, "original_prediction": names[original_prediction],
                "flips": int(np.argmax(probabilities)) != original_prediction,
                **self._rewrite_changes(query.text, text, attributor)}

    @staticmethod
    def _rewrite_changes(original: str, rewrite: str, attributor: SentenceAttributor) -> dict:
        before, after, changes = word_changes(original, rewrite)
        listed = []
        for change in changes:
            (a, b), (c, d) = _span(before, change.i1, change.i2), _span(after, change.j1, change.j2)
            listed.append({"op": change.op, "original": [a, b], "rewrite": [c, d],
                           "removed": readable(original[a:b]), "added": readable(rewrite[c:d])})
        changed = sum(max(c.i2 - c.i1, c.j2 - c.j1) for c in changes)
        warning = None
        if not changes:
            warning = ("the rewrite has the same words as the text" if not same_text(rewrite, original)
                       else "the rewrite is the same as the text")
            warning += "; change the words that carry the label"
        elif _all_past(attributor.word_pieces(original).read_chars(len(original), attributor.max_pieces),
                       original, before, changes):
            warning = ("every change lies past the first ~200 words, which the sentence model does not "
                       "read; change something earlier")
        return {"changes": listed, "changed_words": changed, "warning": warning}

    # ------------------------------------------------------------ validation
    def unavailable(self) -> str | None:
        """Why there are no highlights nor readings now (no texts, no model yet); None when there are."""
        if self.session.dataset.texts is None:
            return "highlights and text predictions are for text data sets; this one has no texts"
        if not self.session.model.is_fitted:
            return "the model is not trained yet; it reads texts after the first answers"
        return None

    def _trained_model(self) -> ModelSnapshot:
        reason = self.unavailable()
        if reason is not None:
            raise SessionError(reason)
        return self.session.model

    def _text_encoder(self) -> SentenceEncoder:
        if self.encoder is None:
            self.encoder = self.session.text_encoder()
        if not isinstance(self.encoder, SentenceEncoder):
            raise SessionError("highlights need the sentence-transformers encoder the texts were embedded with")
        return self.encoder

    def _attributor_for_model(self) -> SentenceAttributor:
        """The attributor over the encoder's loaded model, loading it once (under a lock, so the
        worker and a request never load two copies)."""
        with self._load_lock:
            if self._attributor is None:
                self._attributor = self.make_attributor(self._text_encoder())
            return self._attributor

    def _query_id(self, query_id) -> str:
        if not isinstance(query_id, str) or not query_id.strip():
            raise SessionError("a query id is required")
        return query_id

    def _point_id(self, point_id) -> int:
        texts = self.session.dataset.texts
        if isinstance(point_id, bool) or not isinstance(point_id, (int, np.integer)):
            raise SessionError(f"a point id is a whole number, got {quoted(point_id)}")
        if texts is not None and not 0 <= point_id < len(texts):
            raise SessionError(f"point {point_id} is not in the data set")
        return int(point_id)


def _all_past(read_chars: int, original: str, before: np.ndarray, changes: list[WordChange]) -> bool:
    """Whether every change lies past the first ``read_chars`` characters of a truncated ``original``."""
    first = min(c.i1 for c in changes)
    start = int(before[first, 0]) if first < len(before) else len(original)  # an insertion at the end
    return read_chars < len(original) and start >= read_chars


def _span(spans: np.ndarray, first: int, last: int) -> list[int]:
    """Character span [start, end) of words [first, last); an empty span where they are (insertions)."""
    if first < last:
        return [int(spans[first, 0]), int(spans[last - 1, 1])]
    at = int(spans[first, 0]) if first < len(spans) else (int(spans[-1, 1]) if len(spans) else 0)
    return [at, at]


def _waited(future: Future, doing: str, *, cancel_late: bool):
    """``future``'s result, waited for at most :data:`WAIT_SECONDS`; a SessionError saying what went wrong
    when it is late (cancelled too when ``cancel_late``) or was cancelled by the worker's closing."""
    try:
        return future.result(timeout=WAIT_SECONDS)
    except FutureTimeout:
        if cancel_late:
            future.cancel()
        raise SessionError(f"{doing} took longer than {WAIT_SECONDS:.0f} s; try again") from None
    except CancelledError:  # the worker was closed with this job still waiting
        raise SessionError(STOPPED) from None
