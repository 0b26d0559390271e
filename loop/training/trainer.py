"""Training: turning the annotation log into published models.

A :class:`Trainer` retrains a session's learner from its log and publishes
each new model as an immutable :class:`ModelSnapshot`. A round is three
steps, each a method a subclass may override (as skorch's ``NeuralNet`` is
changed through ``get_loss`` or ``train_step``):

- :meth:`Trainer.training_rows`: the rows (X, packed y) for some answers (directions
  converted from the data's units to the model's);
- :meth:`Trainer.fit`: how the learner is brought up to date (modAL ``teach``
  with the new answers when the log only grew, a ``fit`` on all of them after
  an undo or a relabel, a fresh learner every ``full_refit_every`` rounds);
- :meth:`Trainer.publish`: what happens once a model is ready (the pool is
  ranked for it where the trainer serves requests, see :mod:`nudge.loop.training.ranking`; it
  becomes the session's model, its accuracy on the test labels is stored,
  callbacks hear of it); without test labels :meth:`Trainer.cross_validate` then
  measures it on the answers, every few versions.

A trainer sees its session through a :class:`~nudge.loop.training.context.TrainingContext`
(the data set, the settings, the answer log, a learner factory, where to say
a model is published), never the session itself.

When a round runs is the trainer's policy: :class:`InlineTrainer` trains in
the caller's thread (scripted loops, tests: ``submit`` returns once the model
is retrained), :class:`BackgroundTrainer` in a thread of its own (the UI: a
copy of the learner is trained and swapped in when done, so queries never
wait for training), with a :class:`TrainingLoop` (shared with
:class:`~nudge.loop.training.shared.SharedTrainer`).
"""

from __future__ import annotations

import copy
import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from nudge.estimators import pack_targets
from nudge.loop.compute.engine import Engine
from nudge.loop.compute.memory import release_freed_memory
from nudge.loop.errors import StoreError
from nudge.loop.store.log import Annotation
from nudge.loop.training.context import TrainingContext
from nudge.loop.training.evaluation import Evaluation, cross_validated, cross_validation_due
from nudge.loop.training.ranking import Ranking, rank_pool
from nudge.loop.training.snapshot import ModelSnapshot
from nudge.strategies import estimators_of

logger = logging.getLogger(__name__)


class RoundRequests:
    """Training rounds asked for from any thread, merged until the training thread takes them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.asked = False  # a round is asked for and not taken yet
        self.closed = False

    def ask(self) -> None:
        with self._changed:
            self.asked = True
            self._changed.notify_all()

    def close(self) -> None:
        """Wake the training thread for good: :meth:`take` no longer waits."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def take(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` seconds; None: as long as it takes) until a round is asked for or
        the requests are closed; True, and the request taken, when a round was asked for."""
        with self._changed:
            self._changed.wait_for(lambda: self.asked or self.closed, timeout)
            asked, self.asked = self.asked, False
            return asked


class TrainingLoop:
    """A thread that runs ``step(asked)`` each time a round is asked for (and, with ``poll``, at
    least every ``poll`` seconds with ``asked`` False), after ``first()``; what a step raises is
    logged in one line (a database refusal) or with its traceback, and the thread goes on: the log
    is intact and the previous model stays. The trainers with a thread of their own share it."""

    def __init__(self, name: str, step: Callable[[bool], None], *, first: Callable[[], None] = lambda: None,
                 poll: float | None = None) -> None:
        self.name = name
        self.requests = RoundRequests()
        self._step, self._first, self._poll = step, first, poll
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"train-{name}")

    def start(self) -> None:
        self._thread.start()

    def ask(self) -> None:
        self.requests.ask()

    @property
    def asked(self) -> bool:
        """A round is asked for and not taken yet."""
        return self.requests.asked

    def close(self) -> None:
        """Stop after the step under way (waits for it, a minute at most)."""
        self.requests.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)

    def _run(self) -> None:
        self._first()
        while True:
            asked = self.requests.take(self._poll)
            if self.requests.closed:
                return
            try:
                self._step(asked)
            except StoreError as error:  # the database refused (gone, read-only, full): said in one line
                logger.error("training of session %s stopped for now: %s", self.name, error)
            except Exception:
                logger.exception("training of session %s failed; the previous model stays", self.name)


class Trainer:
    """Retrains a session's learner from its log; subclasses choose when (see the module docstring)."""

    ranks_pool = False  # rank the pool for each model (served sessions), or let each request choose

    def __init__(self, *, engine: Engine | None = None) -> None:
        """``engine``: where the pool is scored for a new model (a Dask cluster); default here."""
        self.engine = engine
        self.context: TrainingContext | None = None
        self.snapshot: ModelSnapshot | None = None
        self.ranking: Ranking | None = None
        self.training = False
        self.problem: str | None = None  # why the model served is not the newest one, said in the status
        self.last_train_seconds = 0.0
        self.retrains = 0
        self._pending_answers = 0
        self._train_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._ranking_first = False  # a first ranking still to be made in a thread (see _rank_first)
        self._cross_validated_at = 0  # the answers the last cross-validation saw

    def attach(self, context: TrainingContext) -> None:
        """Train for the session ``context`` describes (called once, by the session): an untrained
        model, or one rebuilt from the log."""
        if self.context is not None:
            raise RuntimeError("a trainer serves one session")
        self.context = context
        self.snapshot = ModelSnapshot.untrained(context.new_learner())
        if context.answers():
            self.retrain(full=True)

    # ------------------------------------------------------------------ policy
    def answer_recorded(self) -> None:
        """Count an answer; ask for a round when ``retrain_every`` answers have come."""
        with self._count_lock:
            self._pending_answers += 1
            due = self._pending_answers >= self.context.config.retrain_every
            if due:
                self._pending_answers = 0
        if due:
            self.request()

    def request(self) -> None:
        """A round is wanted (new answers, an undo): run it now."""
        self.retrain()

    @property
    def busy(self) -> bool:
        """True while a round runs or is waiting to run."""
        return self.training

    def wait_until_idle(self, timeout: float = 60.0) -> bool:
        """Block until no round is pending or running; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop training (nothing to stop here)."""

    # ------------------------------------------------------------------- round
    def retrain(self, *, full: bool = False) -> ModelSnapshot:
        """One round: train on the current log and publish the new model. Returns it.

        ``full``: from a fresh learner, whatever the refit period says.
        """
        with self._train_lock:
            self.training = True
            try:
                return self._round(full)
            finally:
                self.training = False
                release_freed_memory()  # the previous model and its training set, gone: see nudge.loop.compute.memory

    def _round(self, full: bool) -> ModelSnapshot:
        context = self.context
        answers = context.answers()
        previous = self.snapshot
        self.retrains += 1
        period = context.config.full_refit_every
        full = full or not previous.is_fitted or (period > 0 and self.retrains % period == 0)
        started = time.perf_counter()
        learner = self.fit(context.new_learner() if full else self._warm_copy(previous.learner),
                           answers, previous, full=full)
        if not full and not finite_weights(learner):  # a warm start that diverged: once more from scratch
            learner = self.fit(context.new_learner(), answers, previous, full=True)
        seconds = time.perf_counter() - started
        version = self.next_version(previous)
        if not finite_weights(learner):
            self.problem = (f"training model v{version} gave non-finite weights (NaN or infinity), so it was not "
                            f"published: model v{previous.version} stays")
            logger.warning("session %s: %s", context.name, self.problem)
            return previous
        tested = self.tested(learner, answers)
        snapshot = ModelSnapshot(
            learner, version, tuple(a.id for a in answers), len(answers),
            sum(len(a.directions) for a in answers), None if tested is None else tested.accuracy, tested,
        )
        self.last_train_seconds = seconds
        self.publish(snapshot, seconds)
        if self.snapshot is snapshot:  # published: measure it without test labels, if there are none
            self.cross_validate(snapshot, answers)
        return snapshot

    def next_version(self, previous: ModelSnapshot) -> int:
        """The version number of the model trained after ``previous``."""
        return previous.version + 1

    def _warm_copy(self, learner):
        """A copy of the published learner that continues for ``warm_epochs`` epochs."""
        learner = copy.deepcopy(learner)
        # skorch copies its torch parts through torch.save / torch.load, whose unpickler leaves a
        # reference cycle holding a copy of the network: collected while young it costs < 1 ms,
        # left to a full collection it piled up ~10 MB a retrain at 10,000 features (1.1 GiB at 60)
        gc.collect(1)
        for estimator in estimators_of(learner):
            if "max_epochs" in estimator.get_params():
                estimator.set_params(max_epochs=self.context.config.warm_epochs)
        return learner

    # ------------------------------------------------------------------- steps
    def training_rows(self, answers: Sequence[Annotation]) -> tuple[np.ndarray, np.ndarray]:
        """X (N, n) and packed y for the given answers, in the model's units (directions are stored
        in the data's, see :class:`nudge.estimators.scaling.Scaling`).

        A direction from a rewrite also yields, when ``augment_rewrites`` is on,
        the rewrite itself (x + k) as an example of the target class with the
        direction back to x.
        """
        dataset, config = self.context.dataset, self.context.config
        X_rows, labels, directions, targets = [], [], [], []
        for answer in answers:
            x = dataset.X[answer.point_id]
            X_rows.append(x)
            labels.append(answer.label)
            # stored in the data's units: the model's are the scaled ones
            model_directions = dataset.scaling.direction_to_model(
                np.array(answer.directions, dtype=np.float64).reshape(-1, dataset.n_features))
            directions.append(model_directions)
            targets.append(answer.targets)
            if config.augment_rewrites:
                for k, target, source in zip(model_directions, answer.targets, answer.sources):
                    if source == "rewrite":
                        X_rows.append(x + k)
                        labels.append(target)
                        directions.append(-k[None, :])
                        targets.append([answer.label])
        X = np.asarray(X_rows, dtype=np.float32).reshape(-1, dataset.n_features)
        y = pack_targets(labels, directions, targets=targets, n_features=dataset.n_features,
                         max_directions=config.max_directions)
        return X, y

    def tested(self, learner, answers: Sequence[Annotation]) -> Evaluation | None:
        """The new ``learner``'s accuracy on the labelled test set (None: no test labels, or no answers)."""
        if not answers or not self.context.dataset.has_test_labels:
            return None
        return Evaluation("test", self.context.evaluate(learner), len(self.context.dataset.test))

    def cross_validate(self, snapshot: ModelSnapshot, answers: Sequence[Annotation]) -> None:
        """Without test labels, measure the published ``snapshot``'s way of learning by cross-validation
        on its ``answers``, every few versions (:mod:`nudge.loop.training.evaluation`), and record it as
        the version's evaluation. Runs after the model is published: nobody waits for it."""
        context = self.context
        if context.dataset.has_test_labels or not cross_validation_due(len(answers), self._cross_validated_at):
            return
        self._cross_validated_at = len(answers)
        started = time.perf_counter()
        measured = cross_validated(answers, context.dataset.X, self.training_rows, context.new_learner,
                                   context.config.seed)
        if measured is not None:
            context.log.evaluations.add(
                model_version=snapshot.version, n_labeled=snapshot.n_labeled, n_directions=snapshot.n_directions,
                accuracy=measured.accuracy, train_seconds=time.perf_counter() - started, kind=measured.kind,
                n_evaluated=measured.n,
            )

    def fit(self, learner, answers: Sequence[Annotation], previous: ModelSnapshot, *, full: bool):
        """Bring ``learner`` (fresh when ``full``, else a warm copy of ``previous``) up to date with ``answers``."""
        if not answers:
            return learner
        known = previous.annotation_ids
        grown = not full and tuple(a.id for a in answers[: len(known)]) == known
        if not grown:
            learner.fit(*self.training_rows(answers))
            return learner
        new = answers[len(known):]
        if new:  # nothing new (a second request for the same log): keep the weights
            learner.teach(*self.training_rows(new))
        return learner

    def _rank_first(self) -> None:
        """Rank the pool for the model the trainer started with, if that was not done yet
        (requests choose afresh meanwhile; a failure is logged and they keep doing so)."""
        try:
            if self.ranking is None:
                self.ranking = self.rank(self.snapshot)
        except Exception:
            logger.exception("ranking the pool of session %s failed; requests choose afresh", self.context.name)
        self._ranking_first = False

    def rank(self, snapshot: ModelSnapshot) -> Ranking | None:
        """The pool's ranked candidates for ``snapshot`` (None: each request chooses afresh)."""
        if not self.ranks_pool:
            return None
        context = self.context
        return rank_pool(snapshot, context.dataset.X, context.unlabelled(), context.config.strategy,
                         context.config.seed, engine=self.engine)

    def publish(self, snapshot: ModelSnapshot, train_seconds: float) -> None:
        """Rank the pool for ``snapshot``, make it the session's model, store its evaluation, tell the session."""
        ranking = self.rank(snapshot)
        self.snapshot, self.ranking, self.problem = snapshot, ranking, None
        measured = snapshot.evaluation
        self.context.log.evaluations.add(
            model_version=snapshot.version, n_labeled=snapshot.n_labeled, n_directions=snapshot.n_directions,
            accuracy=None if measured is None else measured.accuracy, train_seconds=train_seconds,
            kind=None if measured is None else measured.kind, n_evaluated=None if measured is None else measured.n,
        )
        self.context.published(snapshot)


def finite_weights(learner) -> bool:
    """False when a network of ``learner`` holds NaN or infinity (estimators that cannot say count as finite)."""
    return not any(getattr(estimator, "non_finite_weights", list)() for estimator in estimators_of(learner))


class InlineTrainer(Trainer):
    """Trains in the caller's thread: ``submit`` returns once the model is up to date."""


class BackgroundTrainer(Trainer):
    """Trains in a thread of its own; rounds asked for while one runs are merged into the next.
    Ranks the pool for each model (and for the untrained one first), so requests need not score it."""

    ranks_pool = True

    def __init__(self, *, engine: Engine | None = None) -> None:
        super().__init__(engine=engine)
        self._ranking_first = True
        self._loop: TrainingLoop | None = None

    def attach(self, context: TrainingContext) -> None:
        super().attach(context)
        self._loop = TrainingLoop(context.name, lambda asked: self.retrain(), first=self._rank_first)
        self._loop.start()

    def request(self) -> None:
        self._loop.ask()

    @property
    def busy(self) -> bool:
        return self.training or self._loop.asked or self.ranking is None and self._ranking_first

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
