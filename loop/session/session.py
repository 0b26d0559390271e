"""A session: a data set, a learner, a query strategy and the annotation log.

The log in the :class:`nudge.loop.store.log.AnswerLog` is the source of truth; the model is
derived from it. A restarted session rebuilds its model from the log and
carries on. The parts, each replaceable:

- :class:`nudge.loop.config.settings.SessionConfig` and its estimator factory: what the session is;
- a :class:`nudge.loop.training.trainer.Trainer`: how and when the log becomes a model
  (:class:`~nudge.loop.training.trainer.InlineTrainer` in the caller's thread, the default;
  :class:`~nudge.loop.training.trainer.BackgroundTrainer` in a thread of its own, for the UI);
- :class:`nudge.loop.session.leasing.Leases`: who may be handed which point;
- :mod:`nudge.loop.session.answers`: the rules an answer must follow;
- :class:`nudge.loop.callbacks.SessionCallback`: your code at each event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import fields

import numpy as np

from nudge.estimators.encoder_registry import make_text_encoder
from nudge.loop.config.factory import check_estimator, new_learner, training_report
from nudge.loop.config.resume import record_text_encoder, resumed_settings, with_text_encoder
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.errors import SavedBut, SessionError, StoreError, record_saved, saved_but
from nudge.loop.session.agreement import AgreementReport, ModelReading, agreement
from nudge.loop.session.answers import (
    check_annotator,
    check_direction,
    check_rewrite,
    check_sources,
    direction_targets,
    label_index,
    rewrite_direction,
)
from nudge.loop.session.callbacks import HOOKS, SessionCallback
from nudge.loop.session.data import DataState, begin_data, new_scaling, resumed_data
from nudge.loop.session.leasing import Leases
from nudge.loop.session.records import Query
from nudge.loop.stopping.rule import StoppingRule
from nudge.loop.stopping.specs import check_stop_specs
from nudge.loop.store.lease_rules import LeaseLimits, QueryRecord
from nudge.loop.store.limits import quoted
from nudge.loop.store.log import Annotation
from nudge.loop.store.store import Store
from nudge.loop.training.context import TrainingContext
from nudge.loop.training.ranking import choose_queries
from nudge.loop.training.snapshot import ModelSnapshot
from nudge.loop.training.trainer import InlineTrainer, Trainer

logger = logging.getLogger(__name__)


class Session:
    """One annotation session; see the module docstring. Build with :meth:`create` or :meth:`open`."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        config: SessionConfig,
        dataset: Dataset,
        *,
        trainer: Trainer | None = None,
        callbacks: Sequence[SessionCallback] = (),
        encoder=None,
        lease_limits: LeaseLimits = LeaseLimits(),
        data: DataState | None = None,
    ) -> None:
        """Use :meth:`create` or :meth:`open`: they record and check the data (``data``) and scale it."""
        self.store = store
        self.session_id = session_id
        self.config = config
        self.dataset = dataset
        self.data = data or DataState(1, int(dataset.present.sum()), 0, 0, None)
        self.log = store.log(session_id, config.overlap_rule())
        self._rounds_before = self.log.last_round()  # rounds count on from there: monotonic across restarts
        self.stopping = StoppingRule.from_config(config.stop, dataset, self.log, seed=config.seed)
        self.callbacks = list(callbacks)
        self._encoder = encoder
        self.leases = Leases(store, session_id, dataset.pool, len(dataset.X), config.lease_seconds, lease_limits,
                             self.log.overlap)
        self.trainer = trainer or InlineTrainer()
        self.trainer.attach(TrainingContext(
            name=session_id, dataset=dataset, config=config, log=self.log, new_learner=self.new_learner,
            evaluate=self._evaluate_learner, published=self._published, unlabelled=self.leases.unlabelled,
        ))

    # ------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        store: Store,
        config: SessionConfig | None = None,
        *,
        session_id: str | None = None,
        dataset: Dataset | None = None,
        trainer: Trainer | None = None,
        callbacks: Sequence[SessionCallback] = (),
        encoder=None,
        lease_limits: LeaseLimits = LeaseLimits(),
    ) -> Session:
        """Start a new session (the data set is loaded from the config unless given, in its own units:
        the session records its items and scales it, see :mod:`nudge.loop.session.data`)."""
        config = config or SessionConfig()
        dataset = dataset or _load_data(config, encoder)
        config = record_text_encoder(config, dataset)
        check_estimator(config, dataset)  # before anything is stored
        check_stop_specs(config.stop, dataset.n_classes)
        scaling = new_scaling(config, dataset)
        session_id = session_id or uuid.uuid4().hex[:12]
        store.create_session(session_id, config.to_dict(portable=not store.in_memory),
                             fingerprint=dataset.fingerprint or None)
        dataset, data = begin_data(store, session_id, dataset, scaling)
        return cls(store, session_id, config, dataset, trainer=trainer, callbacks=callbacks, encoder=encoder,
                   lease_limits=lease_limits, data=data)

    @classmethod
    def open(
        cls,
        store: Store,
        session_id: str,
        *,
        dataset: Dataset | None = None,
        trainer: Trainer | None = None,
        callbacks: Sequence[SessionCallback] = (),
        encoder=None,
        lease_limits: LeaseLimits = LeaseLimits(),
        config: SessionConfig | None = None,
        accept_new_data: bool = False,
    ) -> Session:
        """Reopen a stored session: reload its data set and rebuild its model from the log.

        ``config``: settings to resume with (default: the stored ones). Those that define the data
        or the model must equal the stored ones (else a SessionError lists the differences); the
        others (strategy, retraining, leases, stopping) are applied, stored and logged; see
        :mod:`nudge.loop.config.resume`.

        The data is laid out in the session's point ids. Data whose items changed (added, removed,
        changed) is refused with what changed, unless ``accept_new_data`` (``nudge serve
        --add-rows``): then it becomes a new data version and every earlier answer stays on its
        item (``session.data.report`` says what was done); see :mod:`nudge.loop.session.data`.
        """
        stored = store.session_config(session_id)
        if stored is None:
            raise SessionError(f"no session named {quoted(session_id)} in {store.url}")
        recorded = store.session_fingerprint(session_id)
        stored_config = with_text_encoder(SessionConfig.from_dict(stored), recorded)
        config = cls._resumed_config(store, session_id, stored_config, config)
        dataset = dataset or _load_data(config, encoder)
        check_estimator(config, dataset)
        check_stop_specs(config.stop, dataset.n_classes)
        if store.session_fingerprint(session_id) is None and dataset.fingerprint:  # older than fingerprints
            store.update_session(session_id, fingerprint=dataset.fingerprint)
        dataset, data = resumed_data(store, session_id, dataset, accept_new_data=accept_new_data)
        return cls(store, session_id, config, dataset, trainer=trainer, callbacks=callbacks, encoder=encoder,
                   lease_limits=lease_limits, data=data)

    @staticmethod
    def _resumed_config(store: Store, session_id: str, stored: SessionConfig,
                        given: SessionConfig | None) -> SessionConfig:
        """``given`` checked against the ``stored`` settings (see :meth:`open`); its changes stored."""
        if given is None:
            return stored
        wanted = {f.name: getattr(given, f.name) for f in fields(SessionConfig)}
        config, applied = resumed_settings(session_id, stored, wanted)
        if applied:
            store.update_session(session_id, config=config.to_dict())
            logger.info("session %s resumed with: %s", session_id, "; ".join(applied))
        return config

    def close(self) -> None:
        """Stop the trainer (a background one's thread). The store stays open."""
        self.trainer.close()

    def _published(self, snapshot: ModelSnapshot) -> None:
        """A new model is the session's: the stopping rule judges it, then the callbacks hear of it."""
        self.stopping.judge(snapshot)
        self._notify("on_retrain", snapshot)

    def _notify(self, hook: str, *arguments) -> None:
        """Call ``hook`` (one of :data:`nudge.loop.session.callbacks.HOOKS`) on every callback; log what raises."""
        assert hook in HOOKS
        for callback in self.callbacks:
            try:
                getattr(callback, hook)(self, *arguments)
            except Exception:  # the event happened; a failing callback must not undo it
                logger.exception("callback %r failed in %s", callback, hook)

    # ------------------------------------------------------------------- model
    def new_learner(self):
        """A fresh, unfitted learner for this session (the trainer's starting point)."""
        return new_learner(self.config, self.dataset)

    @property
    def model(self) -> ModelSnapshot:
        """The current published model (safe to use from any thread)."""
        return self.trainer.snapshot

    @property
    def training(self) -> bool:
        """True while a retrain runs or waits to run."""
        return self.trainer.busy

    @property
    def last_train_seconds(self) -> float:
        return self.trainer.last_train_seconds

    def retrain(self, *, full: bool = False) -> ModelSnapshot:
        """Train on the current log now and publish the new model (see :meth:`Trainer.retrain`)."""
        return self.trainer.retrain(full=full)

    def request_retrain(self) -> None:
        """Retrain as soon as the trainer can (now, or in its thread)."""
        self.trainer.request()

    def wait_until_trained(self, timeout: float = 60.0) -> bool:
        """Block until no retrain is pending or running (for scripts and tests)."""
        return self.trainer.wait_until_idle(timeout)

    def labelled_points(self) -> dict[int, int]:
        """Point id -> class index of every point whose current answer is a label."""
        return self.log.labelled_points()

    def effective_annotations(self) -> list[Annotation]:
        """Per point, its latest answer that is neither undone nor a skip; by annotation id."""
        return self.log.effective()

    def agreement(self) -> AgreementReport:
        """How far the annotators agree, with one another and with the current model
        (:mod:`nudge.loop.session.agreement`); answers on items no longer in the data are left out."""
        snapshot, present = self.model, self.dataset.present
        reading = None
        if snapshot.is_fitted:
            reading = ModelReading(snapshot.learner.predict, self.dataset.X, self.dataset.scaling.direction_to_model)
        return agreement([a for a in self.log.annotations(include_undone=False) if present[a.point_id]], reading)

    def _evaluate_learner(self, learner) -> float | None:
        """Accuracy of ``learner`` on the held-out test split (None when there is none)."""
        test = self.dataset.test
        if len(test) == 0:
            return None
        return float(np.mean(learner.predict(self.dataset.X[test]) == self.dataset.y[test]))

    def evaluate(self, X: np.ndarray | None = None, y: np.ndarray | None = None) -> float | None:
        """Accuracy of the current model on (X, y), by default the held-out test split."""
        if X is None:
            return self.model.accuracy
        if not self.model.is_fitted:
            return None
        return float(np.mean(self.model.learner.predict(X) == y))

    # ----------------------------------------------------------------- queries
    def next_queries(self, annotator: str, n: int = 1, *, client: str | None = None) -> list[Query]:
        """Hand ``annotator`` n points to answer (their open, unexpired queries first).

        ``client``: the address asking (for the per-address lease limit). Returns
        fewer than n (possibly none) when the pool is used up.
        """
        annotator = check_annotator(annotator)
        if n < 1:
            raise SessionError("ask for at least one query")
        mine = self.leases.held_by(annotator)[:n]
        snapshot, ranking = self.model, self.trainer.ranking
        new: list[QueryRecord] = []
        if len(mine) < n and ranking is not None and ranking.version == snapshot.version:
            new = self.leases.claim_ranked(annotator, n - len(mine), ranking.candidates(), snapshot.version, client)
        if len(mine) + len(new) < n:  # no ranking for this model (or it ran out): choose afresh
            def choose(available: np.ndarray, count: int):
                return choose_queries(snapshot, self.dataset.X, count, self.config.strategy, self.config.seed,
                                      available)

            new += self.leases.hand_out(annotator, n - len(mine) - len(new), choose, snapshot.version, client)
        queries = [self.describe(record, snapshot) for record in mine + new]
        if queries:
            self._notify("on_query", queries)
        return queries

    def next_query(self, annotator: str, *, client: str | None = None) -> Query | None:
        """One point for ``annotator``, or None when the pool is used up."""
        queries = self.next_queries(annotator, 1, client=client)
        return queries[0] if queries else None

    def query(self, query_id: str) -> Query:
        """A query handed out earlier, described with the current model; one that gives an undone answer
        back comes with it (``reopens``), whichever server or process undid it."""
        record = self.leases.record(query_id)
        reopens = None if record.reopens is None else self.log.annotation(record.reopens)
        return self.describe(record, self.model, reopens=reopens)

    def describe(self, record: QueryRecord, snapshot: ModelSnapshot | None = None,
                 reopens: Annotation | None = None) -> Query:
        """A leased point as a :class:`Query`, with what ``snapshot`` (default: the current model)
        thinks of it; ``reopens``: the answer it hands back (an undo)."""
        snapshot = snapshot or self.model
        x = self.dataset.X[record.point_id]
        probabilities = None
        if snapshot.is_fitted:
            probabilities = snapshot.learner.predict_proba(x[None, :])[0]
        text = None if self.dataset.texts is None else self.dataset.texts[record.point_id]
        return Query(
            record.id, record.point_id, record.annotator, record.model_version, record.score,
            record.lease_until, x, probabilities, text, reopens, self.dataset.item_ids[record.point_id],
        )

    # ----------------------------------------------------------------- answers
    def submit(
        self,
        query_id: str,
        label: int | str,
        directions: Sequence[Sequence[float]] = (),
        *,
        annotator: str,
        sources: Sequence[str] | None = None,
        targets: Sequence[int | str] | None = None,
        rewrite: str | None = None,
        towards: Sequence[str | None] | None = None,
    ) -> Annotation:
        """Record an answer to a query: a label and zero or more directions.

        ``label`` is a class index or a class name. Each direction is a full vector
        in R^n **in the data's own units** (``dataset.raw``'s; the session converts for
        the model); ``sources`` says how each was given (default "api"); ``targets``
        the class each leads to (default: the other class for two classes; for more,
        the likeliest other class at the arrow's tip); ``towards`` the item id each
        moves towards (None where it does not). ``rewrite`` (text data only)
        is the query's text rewritten with another label; it adds the direction
        E(rewrite) - E(text). The answer is committed before this returns.
        """
        annotator = check_annotator(annotator)
        record = self.leases.answerable(query_id, annotator)
        label = label_index(label, self.dataset.class_names)
        vectors = [check_direction(d, i, self.dataset.n_features) for i, d in enumerate(directions)]
        sources = check_sources(sources, len(vectors))
        towards = [None] * len(vectors) if towards is None else list(towards)
        if len(towards) != len(vectors):
            raise SessionError(f"{len(vectors)} directions but {len(towards)} items to move towards")
        if rewrite is not None:
            vectors.append(self._rewrite_direction(record.point_id, rewrite))
            sources.append("rewrite")
            towards.append(None)
        if len(vectors) > self.config.max_directions:
            raise SessionError(f"an answer carries at most {self.config.max_directions} directions")
        target_indices = direction_targets(
            label, len(vectors), self.dataset.class_names, targets, self._tip_class(record.point_id, label, vectors),
        )
        annotation = self._store_answer(record, label, vectors, target_indices, sources, annotator, rewrite, towards)
        try:
            self.trainer.answer_recorded()  # an inline trainer retrains here
        except Exception as error:
            logger.warning("retraining after answer %d failed: %s", annotation.id, error,
                           exc_info=not isinstance(error, (SessionError, StoreError)))
            raise SavedBut(saved_but("your answer was saved", "retraining failed", error,
                                     "the model catches up at the next retrain")) from None
        return annotation

    def skip(self, query_id: str, *, annotator: str) -> Annotation:
        """Record that ``annotator`` passed on a query; the point goes back to the others."""
        annotator = check_annotator(annotator)
        record = self.leases.answerable(query_id, annotator)
        return self._store_answer(record, None, [], [], [], annotator, None, [])

    def _store_answer(self, record: QueryRecord, label: int | None, vectors, targets, sources,
                      annotator: str, rewrite: str | None, towards: list[str | None]) -> Annotation:
        return self.store_answer(
            record.point_id, annotator=annotator, query_id=record.id,
            saved="your answer was saved" if label is not None else "your skip was saved",
            label=label, directions=vectors, targets=targets, sources=sources, rewrite=rewrite,
            towards=towards if any(t is not None for t in towards) else None,
        )

    def store_answer(self, point_id: int, *, annotator: str, saved: str, query_id: str | None = None,
                     **answer) -> Annotation:
        """Log an answer on ``point_id`` with this session's model version and round, note it as saved
        (``saved``: what the person is told should a later step fail) and tell the callbacks.

        ``answer``: what :meth:`nudge.loop.store.log.AnswerLog.add_annotation` takes (label, directions,
        targets, sources, rewrite, towards, resolved_by). Checking it is the caller's job.
        """
        annotation = self.log.add_annotation(
            query_id=query_id, point_id=point_id, annotator=annotator, model_version=self.model.version,
            round=self._rounds_before + self.trainer.retrains + 1, **answer,
        )
        record_saved(saved)
        self._notify("on_answer", annotation)
        return annotation

    def undo(self, annotator: str, *, client: str | None = None) -> Query | None:
        """Undo ``annotator``'s last (not yet undone) answer and hand its point back to them.

        The answer stays in the log, marked undone. Returns the re-opened query
        (``query.reopens`` is the undone answer), or None when there is nothing to
        undo. When someone else holds the point by now (it was a skip), the
        annotator gets their next point instead (``reopens`` None).
        """
        annotator = check_annotator(annotator)
        snapshot = self.model
        undone = self.leases.reopen(annotator, snapshot.version, client)
        if undone is None:
            return None
        answer, record = undone
        record_saved("your last answer was undone")
        if not answer.is_skip:
            self.request_retrain()
        if record is None:
            return self.next_query(annotator, client=client)
        return self.describe(record, snapshot, reopens=answer)

    def relabel(self, point_id: int, label: int | str, directions: Sequence[Sequence[float]] = (),
                *, annotator: str, sources: Sequence[str] | None = None,
                targets: Sequence[int | str] | None = None, towards: Sequence[str | None] | None = None) -> Annotation:
        """Answer a point again (e.g. to correct a label); the newest answer counts."""
        record = self.leases.lease_point(check_annotator(annotator), point_id, self.model.version)
        return self.submit(record.id, label, directions, annotator=annotator, sources=sources, targets=targets,
                           towards=towards)

    def _tip_class(self, point_id: int, label: int, vectors: list[np.ndarray]):
        """For more than two classes: direction j -> the likeliest other class at its tip (None untrained)."""
        snapshot = self.model
        if not snapshot.is_fitted:
            return None

        def likeliest_other(j: int) -> int:
            tip = (self.dataset.X[point_id] + self.dataset.scaling.direction_to_model(vectors[j]))[None, :]
            probabilities = snapshot.learner.predict_proba(tip)[0].copy()
            probabilities[label] = -1.0
            return int(np.argmax(probabilities))

        return likeliest_other

    def _rewrite_direction(self, point_id: int, rewrite: str) -> np.ndarray:
        text = None if self.dataset.texts is None else self.dataset.texts[point_id]
        rewrite = check_rewrite(rewrite, text)
        return rewrite_direction(self.text_encoder().encode([rewrite])[0], self.dataset.raw[point_id])

    def text_encoder(self):
        """The encoder rewrites are embedded with: the one given, else the one that embedded the
        data set's texts, else the default text encoder (made once). Share it (e.g. with
        :class:`nudge.loop.service.explain.Explainer`) rather than loading the sentence model twice."""
        if self._encoder is None:
            # the data set's own: a rewrite embeds as its review did
            self._encoder = self.dataset.encoder or make_text_encoder()
        return self._encoder

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """Counts and the current model, for progress displays and the API.

        ``accuracy``: the current model's on the labelled test set (None without one);
        ``evaluation``: the newest measurement of any kind, ``{"kind": "test" | "cross-validated" |
        "none", "accuracy", "n", "model_version", "n_labeled"}`` (cross-validated on the answers when
        there are no test labels, every few versions: see :mod:`nudge.loop.training.evaluation`);
        ``data``: the data's version, items, removed items and the answers stranded on them."""
        snapshot = self.model
        # the light query: the page polls this, and decoding every stored direction took ~50 ms at 200 CAD labels
        standing = self.log.answered_points()
        n_answers = sum(1 for mark in standing if mark.label is not None)
        return {
            "session": self.session_id,
            "dataset": self.dataset.name,
            **training_report(snapshot.learner),  # "loss" and "retrains", as the estimator has them
            "strategy": self.config.strategy_name,
            "model_version": snapshot.version,
            "retraining": self.training,
            "n_labeled": snapshot.n_labeled,
            "n_directions": snapshot.n_directions,
            "n_answers": n_answers,
            "n_skips": len(standing) - n_answers,
            "n_undone": self.log.count() - len(standing),
            "accuracy": snapshot.accuracy,
            "model_problem": self.trainer.problem,  # None, or why the model served is not the newest
            "evaluation": self.log.evaluations.latest(),
            "pool_size": int(self.leases.pool_mask.sum()),
            "data": self.data.as_dict(),
            "stopping": self.stopping.status(),
        }


def _load_data(config: SessionConfig, encoder=None) -> Dataset:
    """The session's data set, embedded by ``encoder`` when given (else as its options say)."""
    options = dict(config.dataset_options)
    if encoder is not None:
        options["encoder"] = encoder
    return load_dataset(config.dataset, **options)
