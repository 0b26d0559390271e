"""A session: a data set, an estimator, a query strategy and the annotation log.

The log in the :class:`loop.store.Store` is the source of truth; the model is
derived from it. A restarted session rebuilds its model from the log and
carries on. Several annotators can work at once: a point handed to one is not
handed to another while its lease runs.

Training runs either in the caller's thread (``background=False``: scripted
loops, tests) or in a background thread (``background=True``: the UI), where a
copy of the learner is trained and swapped in when done, so queries are never
blocked by training.
"""

from __future__ import annotations

import copy
import gc
import logging
import threading
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from estimators import DirectionClassifier, pack_targets
from estimators.encoders import SentenceEncoder
from estimators.targets import check_directions
from loop.datasets import Dataset, load_dataset
from loop.memory import release_freed_memory
from loop.store import DIRECTION_SOURCES, Annotation, QueryRecord, Store
from strategies import get_strategy, make_learner, select_queries

logger = logging.getLogger(__name__)

MAX_REWRITE_CHARS = 20_000


class SessionError(ValueError):
    """A request the session refuses (bad input, unknown query, ...); nothing was stored."""


@dataclass
class SessionConfig:
    """Everything that defines a session; stored with it as JSON.

    dataset / dataset_options : passed to :func:`loop.datasets.load_dataset`.
    loss : the estimator's objective ("ce", "direction", "gradient-supervision").
    estimator : further DirectionClassifier parameters, e.g. {"criterion__alpha": 0.3};
        they override the defaults (for text data sets, :data:`TEXT_ESTIMATOR`).
    strategy : a name from ``strategies.STRATEGIES``.
    retrain_every : retrain (warm-started) after every k answers.
    full_refit_every : re-initialise and refit from scratch every m retrains (0: never).
    warm_epochs : epochs of a warm-started retrain (a refit from scratch runs the
        estimator's ``max_epochs``, default 100). Continuing from trained weights
        needs far fewer, and the retrain is what the next answer waits for.
    lease_seconds : how long a handed-out point stays reserved for its annotator.
    max_directions : directions one answer may carry.
    augment_rewrites : a rewrite also adds its text as a labelled example of the other class.
    """

    dataset: str = "moons"
    dataset_options: dict = field(default_factory=dict)
    loss: str = "direction"
    estimator: dict = field(default_factory=dict)
    strategy: str = "boundary"
    seed: int = 0
    retrain_every: int = 1
    full_refit_every: int = 20
    warm_epochs: int = 20
    lease_seconds: float = 600.0
    max_directions: int = 4
    augment_rewrites: bool = True

    def __post_init__(self) -> None:
        get_strategy(self.strategy)  # raises with the valid names
        if self.retrain_every < 1:
            raise SessionError("retrain_every must be at least 1")
        if self.full_refit_every < 0:
            raise SessionError("full_refit_every must be 0 (never) or positive")
        if self.warm_epochs < 1:
            raise SessionError("warm_epochs must be at least 1")
        if self.lease_seconds <= 0:
            raise SessionError("lease_seconds must be positive")
        if self.max_directions < 1:
            raise SessionError("max_directions must be at least 1")

    @classmethod
    def from_dict(cls, values: dict) -> SessionConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SessionError(f"unknown session settings {sorted(unknown)}")
        return cls(**values)


@dataclass(frozen=True)
class Query:
    """A point handed to an annotator, with what the model thinks of it."""

    query_id: str
    point_id: int
    annotator: str
    model_version: int
    score: float | None
    lease_until: float
    x: np.ndarray = field(repr=False)
    probabilities: np.ndarray | None = field(repr=False)  # (C,) or None before any training
    text: str | None = None

    @property
    def prediction(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))


@dataclass(frozen=True)
class ModelSnapshot:
    """A trained learner and the annotations it was trained on; never mutated once published."""

    learner: object  # modAL ActiveLearner or Committee
    version: int
    annotation_ids: tuple[int, ...]
    n_labeled: int
    n_directions: int
    accuracy: float | None

    @property
    def is_fitted(self) -> bool:
        return self.version > 0

    @property
    def estimator(self) -> DirectionClassifier:
        """The network (a committee's first member stands for the committee)."""
        members = getattr(self.learner, "learner_list", None)
        return (members[0] if members else self.learner).estimator


class Session:
    """One annotation session; see the module docstring. Build with :meth:`create` or :meth:`open`."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        config: SessionConfig,
        dataset: Dataset,
        *,
        background: bool = False,
        encoder=None,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.config = config
        self.dataset = dataset
        self.background = background
        self._encoder = encoder
        self._lock = threading.RLock()
        self._train_lock = threading.Lock()
        self._wake = threading.Condition()
        self._pending_answers = 0
        self._retrain_requested = False
        self._retrains = 0
        self.last_train_seconds = 0.0
        self._stopping = False
        self.training = False
        self._snapshot = ModelSnapshot(self._new_learner(), 0, (), 0, 0, None)
        self._pool_mask = np.zeros(len(dataset.X), dtype=bool)
        self._pool_mask[dataset.pool] = True
        self._thread: threading.Thread | None = None
        if self._effective_annotations():
            self.retrain(full=True)
        if background:
            self._thread = threading.Thread(target=self._train_forever, daemon=True, name=f"train-{session_id}")
            self._thread.start()

    # ------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        store: Store,
        config: SessionConfig | None = None,
        *,
        session_id: str | None = None,
        dataset: Dataset | None = None,
        background: bool = False,
        encoder=None,
    ) -> Session:
        """Start a new session (the data set is loaded from the config unless given)."""
        config = config or SessionConfig()
        dataset = dataset or load_dataset(config.dataset, encoder=encoder, **config.dataset_options)
        check_estimator(config, dataset)  # before anything is stored
        session_id = session_id or uuid.uuid4().hex[:12]
        store.create_session(session_id, asdict(config))
        return cls(store, session_id, config, dataset, background=background, encoder=encoder)

    @classmethod
    def open(
        cls,
        store: Store,
        session_id: str,
        *,
        dataset: Dataset | None = None,
        background: bool = False,
        encoder=None,
    ) -> Session:
        """Reopen a stored session: reload its data set and rebuild its model from the log."""
        stored = store.session_config(session_id)
        if stored is None:
            raise SessionError(f"no session named {session_id!r} in {store.url}")
        config = SessionConfig.from_dict(stored)
        dataset = dataset or load_dataset(config.dataset, encoder=encoder, **config.dataset_options)
        check_estimator(config, dataset)
        return cls(store, session_id, config, dataset, background=background, encoder=encoder)

    def close(self) -> None:
        """Stop the background trainer (if any). The store stays open."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)

    # ------------------------------------------------------------------- model
    def _new_learner(self):
        return make_learner(new_estimator(self.config, self.dataset), self.config.strategy)

    @property
    def model(self) -> ModelSnapshot:
        """The current published model (safe to use from any thread)."""
        return self._snapshot

    def labelled_points(self) -> dict[int, int]:
        """Point id -> class index of every point whose current answer is a label."""
        latest = {point_id: label for point_id, label, _ in self.store.answered_points(self.session_id)}
        return {point_id: label for point_id, label in latest.items() if label is not None}

    def _effective_annotations(self) -> list[Annotation]:
        """Per point, its latest answer that is neither undone nor a skip; by annotation id."""
        latest: dict[int, Annotation] = {}
        for annotation in self.store.annotations(self.session_id, include_undone=False):
            latest[annotation.point_id] = annotation
        return sorted((a for a in latest.values() if not a.is_skip), key=lambda a: a.id)

    def training_set(self, answers: Sequence[Annotation]) -> tuple[np.ndarray, np.ndarray]:
        """X (N, n) and packed y for the given answers.

        A direction from a rewrite also yields, when ``augment_rewrites`` is on,
        the rewrite itself (x + k) as an example of the target class with the
        direction back to x.
        """
        X_rows, labels, directions, targets = [], [], [], []
        for answer in answers:
            x = self.dataset.X[answer.point_id]
            X_rows.append(x)
            labels.append(answer.label)
            directions.append(np.array(answer.directions).reshape(-1, self.dataset.n_features))
            targets.append(answer.targets)
            if self.config.augment_rewrites:
                for k, target, source in zip(answer.directions, answer.targets, answer.sources):
                    if source == "rewrite":
                        X_rows.append(x + k)
                        labels.append(target)
                        directions.append(-k[None, :])
                        targets.append([answer.label])
        X = np.asarray(X_rows, dtype=np.float32).reshape(-1, self.dataset.n_features)
        y = pack_targets(
            labels, directions, targets=targets, n_features=self.dataset.n_features,
            max_directions=self.config.max_directions,
        )
        return X, y

    def retrain(self, *, full: bool = False) -> ModelSnapshot:
        """Train on the current log and publish the new model. Returns it.

        Warm-started from the published model (modAL ``teach`` with the new answers
        when the log only grew; a ``fit`` on all answers after an undo or a relabel),
        or re-initialised when ``full`` or when the refit period has come.
        """
        with self._train_lock:
            self.training = True
            try:
                return self._retrain_locked(full)
            finally:
                self.training = False

    def _retrain_locked(self, full: bool) -> ModelSnapshot:
        answers = self._effective_annotations()
        previous = self._snapshot
        self._retrains += 1
        period = self.config.full_refit_every
        full = full or not previous.is_fitted or (period > 0 and self._retrains % period == 0)
        if full:
            learner = self._new_learner()
        else:
            learner = copy.deepcopy(previous.learner)
            # skorch copies its torch parts through torch.save / torch.load, whose unpickler leaves a
            # reference cycle holding a copy of the network: collected while young it costs < 1 ms,
            # left to a full collection it piled up ~10 MB a retrain at 10,000 features (1.1 GiB at 60)
            gc.collect(1)
            learner.estimator.set_params(max_epochs=self.config.warm_epochs)
        ids = tuple(a.id for a in answers)
        started = time.perf_counter()
        if answers:
            grown = not full and ids[: len(previous.annotation_ids)] == previous.annotation_ids
            if grown:
                new = [a for a in answers if a.id not in set(previous.annotation_ids)]
                if new:  # nothing new (a second request for the same log): keep the weights
                    learner.teach(*self.training_set(new))
            else:
                learner.fit(*self.training_set(answers))
        seconds = time.perf_counter() - started
        accuracy = self._accuracy(learner) if answers else None
        n_directions = sum(len(a.directions) for a in answers)
        snapshot = ModelSnapshot(learner, previous.version + 1, ids, len(answers), n_directions, accuracy)
        self._snapshot = snapshot
        self.store.add_evaluation(
            self.session_id, model_version=snapshot.version, n_labeled=len(answers),
            n_directions=n_directions, accuracy=accuracy, train_seconds=seconds,
        )
        self.last_train_seconds = seconds
        return snapshot

    def _accuracy(self, learner) -> float | None:
        if len(self.dataset.test) == 0:
            return None
        test = self.dataset.test
        return float(np.mean(learner.predict(self.dataset.X[test]) == self.dataset.y[test]))

    def evaluate(self, X: np.ndarray | None = None, y: np.ndarray | None = None) -> float | None:
        """Accuracy of the current model on (X, y), by default the held-out test split."""
        if X is None:
            return self._snapshot.accuracy
        if not self._snapshot.is_fitted:
            return None
        return float(np.mean(self._snapshot.learner.predict(X) == y))

    def _answer_recorded(self) -> None:
        """Count an answer; retrain now (or wake the trainer) when the period is reached."""
        with self._wake:
            self._pending_answers += 1
            due = self._pending_answers >= self.config.retrain_every
            if due:
                self._pending_answers = 0
                if self.background:
                    self._retrain_requested = True
                    self._wake.notify_all()
        if due and not self.background:
            self.retrain()

    def request_retrain(self) -> None:
        """Retrain as soon as possible (now, or in the background thread)."""
        if self.background:
            with self._wake:
                self._retrain_requested = True
                self._wake.notify_all()
        else:
            self.retrain()

    def _train_forever(self) -> None:
        while True:
            with self._wake:
                while not (self._retrain_requested or self._stopping):
                    self._wake.wait()
                if self._stopping:
                    return
                self._retrain_requested = False
            try:
                self.retrain()
            except Exception:  # the trainer must outlive one bad round; the log is intact
                logger.exception("retrain of session %s failed; the previous model stays", self.session_id)
            release_freed_memory()  # the previous model and its training set, gone: see loop.memory

    def wait_until_trained(self, timeout: float = 60.0) -> bool:
        """Block until no retrain is pending or running (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (self._retrain_requested or self.training):
                return True
            time.sleep(0.01)
        return False

    # ----------------------------------------------------------------- queries
    def next_queries(self, annotator: str, n: int = 1) -> list[Query]:
        """Hand ``annotator`` n points to answer (their open, unexpired queries first).

        Returns fewer than n (possibly none) when the pool is used up.
        """
        annotator = self._check_annotator(annotator)
        if n < 1:
            raise SessionError("ask for at least one query")
        with self._lock:
            now = time.time()
            open_queries = self.store.open_queries(self.session_id)
            mine = [q for q in open_queries if q.annotator == annotator and q.lease_until > now][:n]
            snapshot = self._snapshot
            wanted = n - len(mine)
            new: list[QueryRecord] = []
            if wanted:
                available = self._available(open_queries, annotator, now)
                count = min(wanted, int(available.sum()))
                if count:
                    indices, scores = select_queries(
                        snapshot.learner, self.dataset.X, count, self.config.strategy,
                        available=available, random_state=self.config.seed + snapshot.version,
                    )
                    for point_id, score in zip(indices, scores):
                        new.append(self.store.add_query(
                            self.session_id, uuid.uuid4().hex, int(point_id), annotator,
                            self.config.lease_seconds, snapshot.version, _finite_or_none(score),
                        ))
        return [self._describe(record, snapshot) for record in mine + new]

    def query(self, query_id: str) -> Query:
        """A query handed out earlier, described with the current model."""
        return self._describe(self._query_record(query_id), self._snapshot)

    def _query_record(self, query_id: str) -> QueryRecord:
        text = str(query_id)
        # longer than any stored id, or with a NUL (which PostgreSQL refuses in text): unknown too
        record = None if len(text) > 64 or "\x00" in text else self.store.query(self.session_id, text)
        if record is None:
            raise SessionError(f"unknown query id {query_id!r:.80}")
        return record

    def next_query(self, annotator: str) -> Query | None:
        """One point for ``annotator``, or None when the pool is used up."""
        queries = self.next_queries(annotator, 1)
        return queries[0] if queries else None

    def _available(self, open_queries: list[QueryRecord], annotator: str, now: float) -> np.ndarray:
        """(N,) mask of pool points that may be handed to ``annotator`` now."""
        available = self._pool_mask.copy()
        for point_id, label, by in self.store.answered_points(self.session_id):
            if label is not None or by == annotator:
                available[point_id] = False
        for query in open_queries:
            if query.lease_until > now:
                available[query.point_id] = False
        return available

    def _describe(self, record: QueryRecord, snapshot: ModelSnapshot) -> Query:
        x = self.dataset.X[record.point_id]
        probabilities = None
        if snapshot.is_fitted:
            probabilities = snapshot.learner.predict_proba(x[None, :])[0]
        text = None if self.dataset.texts is None else self.dataset.texts[record.point_id]
        return Query(
            record.id, record.point_id, record.annotator, record.model_version, record.score,
            record.lease_until, x, probabilities, text,
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
    ) -> Annotation:
        """Record an answer to a query: a label and zero or more directions.

        ``label`` is a class index or a class name. Each direction is a full vector
        in R^n; ``sources`` says how each was given (default "api"); ``targets``
        the class each leads to (default: the other class for two classes; for more,
        the likeliest other class at the arrow's tip). ``rewrite`` (text data only)
        is the query's text rewritten with another label; it adds the direction
        E(rewrite) - E(text). The answer is committed before this returns.
        """
        annotator = self._check_annotator(annotator)
        record = self._open_query(query_id, annotator)
        label_index = self._label_index(label)
        vectors = [self._check_vector(d, i) for i, d in enumerate(directions)]
        sources = list(sources) if sources is not None else ["api"] * len(vectors)
        if len(sources) != len(vectors):
            raise SessionError(f"{len(vectors)} directions but {len(sources)} sources")
        bad_sources = set(sources) - set(DIRECTION_SOURCES)
        if bad_sources:
            raise SessionError(f"unknown direction source(s) {sorted(bad_sources)}; use {list(DIRECTION_SOURCES)}")
        if rewrite is not None:
            vectors.append(self._rewrite_direction(record.point_id, rewrite))
            sources.append("rewrite")
        if len(vectors) > self.config.max_directions:
            raise SessionError(f"an answer carries at most {self.config.max_directions} directions")
        target_indices = self._targets(record.point_id, label_index, vectors, targets)
        with self._lock:
            annotation = self.store.add_annotation(
                self.session_id, query_id=query_id, point_id=record.point_id, label=label_index,
                directions=vectors, targets=target_indices, sources=sources, annotator=annotator,
                model_version=self._snapshot.version, round=self._retrains + 1,
                rewrite=rewrite,
            )
        self._answer_recorded()
        return annotation

    def skip(self, query_id: str, *, annotator: str) -> Annotation:
        """Record that ``annotator`` passed on a query; the point goes back to the others."""
        annotator = self._check_annotator(annotator)
        record = self._open_query(query_id, annotator)
        with self._lock:
            return self.store.add_annotation(
                self.session_id, query_id=query_id, point_id=record.point_id, label=None,
                directions=[], targets=[], sources=[], annotator=annotator,
                model_version=self._snapshot.version, round=self._retrains + 1,
            )

    def undo(self, annotator: str) -> Query | None:
        """Undo ``annotator``'s last (not yet undone) answer and hand its point back to them.

        The answer stays in the log, marked undone. Returns the re-opened query, or
        None when there is nothing to undo.
        """
        annotator = self._check_annotator(annotator)
        with self._lock:
            last = self.store.last_active_annotation(self.session_id, annotator)
            if last is None:
                return None
            self.store.mark_undone(self.session_id, last.id)
            for query in self.store.open_queries(self.session_id):
                if query.annotator == annotator:
                    self.store.release_query(self.session_id, query.id)
            snapshot = self._snapshot
            record = self.store.add_query(
                self.session_id, uuid.uuid4().hex, last.point_id, annotator,
                self.config.lease_seconds, snapshot.version, None,
            )
        if not last.is_skip:
            self.request_retrain()
        return self._describe(record, snapshot)

    def relabel(self, point_id: int, label: int | str, directions: Sequence[Sequence[float]] = (),
                *, annotator: str, sources: Sequence[str] | None = None) -> Annotation:
        """Answer a point again (e.g. to correct a label); the newest answer counts."""
        point_id = int(point_id)
        if not (0 <= point_id < len(self._pool_mask) and self._pool_mask[point_id]):
            raise SessionError(f"point {point_id} is not in the pool")
        with self._lock:
            record = self.store.add_query(
                self.session_id, uuid.uuid4().hex, int(point_id), self._check_annotator(annotator),
                self.config.lease_seconds, self._snapshot.version, None,
            )
        return self.submit(record.id, label, directions, annotator=annotator, sources=sources)

    # -------------------------------------------------------------- validation
    @staticmethod
    def _check_annotator(annotator: str) -> str:
        if not isinstance(annotator, str) or not annotator.strip():
            raise SessionError("an annotator name is required")
        annotator = annotator.strip()
        if len(annotator) > 200:
            raise SessionError("annotator names are at most 200 characters")
        if any(unicodedata.category(c) == "Cc" for c in annotator):
            raise SessionError("annotator names cannot hold control characters")
        return annotator

    def _open_query(self, query_id: str, annotator: str) -> QueryRecord:
        record = self._query_record(query_id)
        if record.status not in ("open",):
            raise SessionError(f"query {query_id} was already {record.status}")
        if record.annotator != annotator:
            raise SessionError(f"query {query_id} belongs to {record.annotator!r}, not {annotator!r}")
        return record

    def _label_index(self, label: int | str) -> int:
        names = self.dataset.class_names
        if isinstance(label, str) and label in names:
            return names.index(label)
        try:
            index = int(label)
        except (TypeError, ValueError, OverflowError):
            raise SessionError(f"label {label!r} is not one of the classes {names}") from None
        if index != label or not 0 <= index < len(names):
            raise SessionError(f"label {label!r} is not one of the classes 0..{len(names) - 1} {names}")
        return index

    def _check_vector(self, direction: Sequence[float], i: int) -> np.ndarray:
        try:
            vector = np.asarray(direction, dtype=float)
        except (TypeError, ValueError):
            raise SessionError(f"direction {i} is not a list of numbers") from None
        if vector.shape != (self.dataset.n_features,):
            raise SessionError(
                f"direction {i} has shape {vector.shape}; this data set needs "
                f"{self.dataset.n_features} numbers"
            )
        try:
            check_directions(vector, where=f"direction {i}")
        except ValueError as error:
            raise SessionError(str(error)) from None
        with np.errstate(over="ignore"):  # the network trains in float32: the length must not overflow nor vanish
            length = float(np.linalg.norm(vector.astype(np.float32)))
        if not (np.isfinite(length) and length > 0):
            raise SessionError(
                f"direction {i} is too {'long' if length > 0 else 'short'} to train on in float32; scale it"
            )
        return vector

    def _targets(self, point_id: int, label: int, vectors: list[np.ndarray],
                 targets: Sequence[int | str] | None) -> list[int]:
        if targets is not None:
            if len(targets) != len(vectors):
                raise SessionError(f"{len(vectors)} directions but {len(targets)} targets")
            indices = [self._label_index(t) for t in targets]
            if label in indices:
                raise SessionError("a direction must lead to another class than the label")
            return indices
        if self.dataset.n_classes == 2:
            return [1 - label] * len(vectors)
        return [self._likeliest_other_class(point_id, label, k) for k in vectors]

    def _likeliest_other_class(self, point_id: int, label: int, k: np.ndarray) -> int:
        snapshot = self._snapshot
        if not snapshot.is_fitted:
            raise SessionError("with more than two classes, say which class each direction leads to")
        tip = (self.dataset.X[point_id] + k)[None, :]
        probabilities = snapshot.learner.predict_proba(tip)[0].copy()
        probabilities[label] = -1.0
        return int(np.argmax(probabilities))

    def _rewrite_direction(self, point_id: int, rewrite: str) -> np.ndarray:
        if self.dataset.texts is None:
            raise SessionError("rewrites are for text data sets; this one has no texts")
        if not isinstance(rewrite, str) or not rewrite.strip():
            raise SessionError("the rewrite is empty")
        if len(rewrite) > MAX_REWRITE_CHARS:
            raise SessionError(f"the rewrite is longer than {MAX_REWRITE_CHARS} characters")
        if "\x00" in rewrite:
            raise SessionError("the rewrite holds a NUL character; send plain text")
        if rewrite.strip() == self.dataset.texts[point_id].strip():
            raise SessionError("the rewrite is the same as the text; change it so the label flips")
        embedded = self._text_encoder().encode([rewrite])[0]
        direction = embedded - self.dataset.X[point_id]
        if not np.any(direction):
            raise SessionError(
                "the rewrite embeds exactly as the text: the sentence model reads only the first "
                "~200 words, so change something there"
            )
        try:
            check_directions(direction, where="the rewrite's direction")
        except ValueError as error:
            raise SessionError(str(error)) from None
        return direction

    def _text_encoder(self):
        if self._encoder is None:
            self._encoder = SentenceEncoder()
        return self._encoder

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """Counts and the current model, for progress displays and the API."""
        snapshot = self._snapshot
        answers = self.store.annotations(self.session_id)
        return {
            "session": self.session_id,
            "dataset": self.dataset.name,
            "loss": self.config.loss,
            "strategy": self.config.strategy,
            "model_version": snapshot.version,
            "retraining": self.training or self._retrain_requested,
            "n_labeled": snapshot.n_labeled,
            "n_directions": snapshot.n_directions,
            "n_answers": sum(1 for a in answers if not a.is_skip and not a.undone),
            "n_skips": sum(1 for a in answers if a.is_skip and not a.undone),
            "n_undone": sum(1 for a in answers if a.undone),
            "accuracy": snapshot.accuracy,
            "pool_size": int(self._pool_mask.sum()),
        }


# Sentence embeddings get a linear model: on the CAD dev split it beat MLPs at every
# budget once revisions are added as examples (an MLP overfits the near-identical
# pairs); see bench/tune_direction_loss.py. 2-D sets need the default MLP's bends.
TEXT_ESTIMATOR = {"module__hidden": ()}


def new_estimator(config: SessionConfig, dataset: Dataset) -> DirectionClassifier:
    """A fresh network for a session: its loss, seed and classes, the data kind's defaults
    (:data:`TEXT_ESTIMATOR` for text) and the config's estimator settings, which win."""
    params = {"criterion": config.loss, "random_state": config.seed,
              "classes": list(range(dataset.n_classes)), "warm_start": True}
    if dataset.texts is not None:
        params.update(TEXT_ESTIMATOR)
    return DirectionClassifier(**{**params, **config.estimator})


def check_estimator(config: SessionConfig, dataset: Dataset) -> None:
    """Build the network once, so a bad estimator setting fails now and not in every retrain."""
    try:
        new_estimator(config, dataset).set_params(module__n_features=dataset.n_features).initialize()
    except (TypeError, ValueError) as error:
        raise SessionError(f"bad estimator settings {config.estimator}: {error}") from None


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
