"""Training: how and when a session's answer log becomes published models, and the pool ranked
for each of them. A trainer sees its session through a :class:`TrainingContext`."""

from nudge.loop.training.context import TrainingContext
from nudge.loop.training.shared import SharedTrainer
from nudge.loop.training.snapshot import ModelSnapshot
from nudge.loop.training.trainer import BackgroundTrainer, InlineTrainer, Trainer, TrainingLoop

__all__ = ["BackgroundTrainer", "InlineTrainer", "ModelSnapshot", "SharedTrainer", "Trainer", "TrainingContext",
           "TrainingLoop"]
