"""One trainer per session, however many servers: the :class:`SharedTrainer`.

Every ``nudge serve`` process (and ``nudge train``) runs one. While it holds
the session's trainer lease (:class:`nudge.loop.store.publication.TrainerLease`, renewed
by a heartbeat thread) it is the session's only trainer: it notices new
answers in the database — from any server — retrains, and publishes each
model version (:class:`nudge.loop.store.publication.ModelRegistry`). Otherwise it follows:
it loads each newly published version, so every server answers from the
newest model. When the trainer dies its lease runs out and another process
takes over within seconds, from the newest published model.

A start-up loads the newest published model instead of retraining, so a
restarted server answers at once.
"""

from __future__ import annotations

import logging
import threading

from nudge.loop.compute.engine import Engine
from nudge.loop.errors import StoreError
from nudge.loop.store.publication import (
    LEASE_SECONDS,
    ModelRegistry,
    PublishedModel,
    TrainerLease,
    process_name,
)
from nudge.loop.training.context import TrainingContext
from nudge.loop.training.snapshot import ModelSnapshot
from nudge.loop.training.trainer import Trainer, TrainingLoop
from nudge.strategies import estimators_of
from nudge.strategies.model import learners_of

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class SharedTrainer(Trainer):
    """Trains while it holds the session's trainer lease, follows the published models otherwise.

    ``train=False``: never trains (``nudge serve --no-train``), only follows. Ranks the pool for
    each model it trains or loads (see :mod:`nudge.loop.training.ranking`). Its thread is a
    :class:`~nudge.loop.training.trainer.TrainingLoop` that polls every ``poll_seconds``.
    """

    ranks_pool = True

    def __init__(self, *, train: bool = True, lease_seconds: float = LEASE_SECONDS,
                 poll_seconds: float = POLL_SECONDS, engine: Engine | None = None) -> None:
        super().__init__(engine=engine)
        self.may_train = train
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.name = process_name()
        self.leader = False
        self._stopping = threading.Event()
        self._log_trained = (0, 0, 0)  # the log as read before the last round (or at the start, in attach)
        self._ranking_first = True
        self._looked_at = 0  # the newest published version looked at (a refused one is not looked at again)
        self._loop: TrainingLoop | None = None
        self._heart: threading.Thread | None = None

    def attach(self, context: TrainingContext) -> None:
        if self.context is not None:
            raise RuntimeError("a trainer serves one session")
        for estimator in estimators_of(context.new_learner()):
            if not hasattr(estimator, "weights_bytes"):
                raise ValueError(
                    "servers share a session's model as safetensors weights: its estimator must be an "
                    f"nudge.estimators.DirectionClassifier (or subclass), not {type(estimator).__name__}"
                )
        self.context = context
        database = context.log.db
        self.registry = ModelRegistry(database, context.name)
        self.lease = TrainerLease(database, context.name, self.name, self.lease_seconds)
        self.snapshot = ModelSnapshot.untrained(context.new_learner())
        self._loop = TrainingLoop(context.name, self._follow_and_train, first=self._rank_first,
                                  poll=self.poll_seconds)
        self._follow()
        self.leader = self.may_train and self.lease.acquire()
        self._heart = threading.Thread(target=self._heartbeat, daemon=True, name=f"lease-{context.name}")
        self._heart.start()  # renews the lease while the catch-up below trains
        seen = context.log.state()
        if self.leader and self._behind_the_log():  # the trainer catches up with the log before serving
            self.retrain()
        self._log_trained = seen
        self._loop.start()

    # ------------------------------------------------------------------ policy
    def request(self) -> None:
        self._loop.ask()

    @property
    def busy(self) -> bool:
        return self.training or (self._loop.asked and self.leader) or self._ranking_first

    def close(self) -> None:
        self._stopping.set()
        if self._loop is not None:
            self._loop.close()
        if self._heart is not None:
            self._heart.join(timeout=60)
        if self.leader:
            try:
                self.lease.release()
            except Exception:  # the lease runs out by itself; a failing release must not stop a shutdown
                logger.exception("could not release the trainer lease of session %s", self.context.name)

    # ----------------------------------------------------------------- threads
    def _heartbeat(self) -> None:
        """Hold (or try to take) the trainer lease, renewing it well before it runs out."""
        while not self._stopping.is_set():
            try:
                leader = self.may_train and self.lease.acquire()
            except StoreError as error:  # a database hiccup: not the leader until the next beat succeeds
                logger.error("trainer lease of session %s could not be renewed: %s", self.context.name, error)
                leader = False
            except Exception:
                logger.exception("trainer lease of session %s could not be renewed", self.context.name)
                leader = False
            if leader and not self.leader:
                logger.info("this process now trains session %s", self.context.name)
                self.request()
            self.leader = leader
            self._stopping.wait(self.lease_seconds / 3)

    def _follow_and_train(self, requested: bool) -> None:
        """One step of the loop: load a newer published model; as the leader, train when due."""
        self._follow()
        if self.leader:
            self._train_when_due(requested)

    def _train_when_due(self, requested: bool) -> None:
        """Retrain when asked, or when the log grew enough since the last round (answers from any
        server: ``retrain_every`` new ones, or an undo), unless the model already covers the log.
        The log's state is read before the round: what arrives during it counts towards the next."""
        seen = self.context.log.state()  # one aggregate query
        if not (requested or self._log_grew_since_trained(seen)):
            return
        if self._behind_the_log():
            self.retrain()
        self._log_trained = seen

    def _log_grew_since_trained(self, seen: tuple[int, int, int]) -> bool:
        new_answers, undone = seen[0] - self._log_trained[0], seen[1] != self._log_trained[1]
        return new_answers >= self.context.config.retrain_every or undone

    def _behind_the_log(self) -> bool:
        """True when the model was not trained on exactly the log's current answers."""
        return {a.id for a in self.context.answers()} != set(self.snapshot.annotation_ids)

    # ----------------------------------------------------------- publication
    def _follow(self) -> None:
        """Load the newest published model newer than ours. A version that cannot be used (damaged,
        or non-finite weights) is skipped for the next older one, and that is said (log and status)."""
        versions = [v for v in self.registry.versions() if v > max(self.snapshot.version, self._looked_at)]
        if not versions:
            return
        self._looked_at = versions[0]
        refused = []
        for version in versions:
            published = self.registry.published(version)
            try:
                learner = self._learner_from(published)
            except ValueError as error:
                refused.append(str(error))
                continue
            snapshot = ModelSnapshot(learner, published.version, published.annotation_ids,
                                     published.n_labeled, published.n_directions, published.accuracy)
            ranking = self.rank(snapshot)
            self.snapshot, self.ranking, self.problem = snapshot, ranking, None
            self.context.published(snapshot)  # this server's callbacks (its stopping rule) see it too
            break
        if refused:
            self._say_refused(refused)

    def _say_refused(self, refused: list[str]) -> None:
        """One line for the published versions that could not be used, and what is served instead."""
        served = (f"serving model v{self.snapshot.version}" if self.snapshot.is_fitted
                  else "serving an untrained model")
        then = ("; it is retrained from the log" if self.may_train
                else "; the trainer publishes the next one (nudge serve without --no-train, or nudge train)")
        self.problem = f"{'; '.join(refused[:2])}{' ...' if len(refused) > 2 else ''}: skipped, {served}{then}"
        logger.warning("session %s: %s", self.context.name, self.problem)
        if self.may_train and self._loop is not None:
            self.request()

    def next_version(self, previous: ModelSnapshot) -> int:
        """After the newest published version, even one this process skipped (versions only grow)."""
        return max(previous.version, self.registry.newest_version()) + 1

    def _learner_from(self, published: PublishedModel):
        """A learner with the published weights, and the training rows of the answers they saw
        (the strategies' cold start reads them)."""
        learner = self.context.new_learner()
        estimators = estimators_of(learner)
        if len(published.weights) != len(estimators):
            raise ValueError(f"published model v{published.version} holds {len(published.weights)} networks' weights "
                             f"for {len(estimators)} (damaged)")
        for estimator, blob in zip(estimators, published.weights):
            estimator.load_weights_bytes(blob, source=f"published model v{published.version}")
        wanted = set(published.annotation_ids)
        answers = [a for a in self.context.log.annotations() if a.id in wanted]
        if answers:
            X, y = self.training_rows(answers)
            for member in learners_of(learner):
                member.X_training, member.y_training = X, y
        return learner

    def publish(self, snapshot: ModelSnapshot, train_seconds: float) -> None:
        """Publish to the database first; only a version that was published becomes ours."""
        model = PublishedModel(
            snapshot.version, self.name, snapshot.annotation_ids, snapshot.n_labeled, snapshot.n_directions,
            snapshot.accuracy, tuple(estimator.weights_bytes() for estimator in estimators_of(snapshot.learner)),
        )
        if self.registry.publish(self.lease, model):
            super().publish(snapshot, train_seconds)
        else:  # another process trains now; its models win
            self.leader = False
            logger.warning("model v%d of session %s was not published: another process trains it now",
                           snapshot.version, self.context.name)
