"""Training: how and when a session's answer log becomes published models, and the pool ranked
for each of them."""

from nudge.loop.training.shared import SharedTrainer
from nudge.loop.training.trainer import BackgroundTrainer, InlineTrainer, ModelSnapshot, Trainer

__all__ = ["BackgroundTrainer", "InlineTrainer", "ModelSnapshot", "SharedTrainer", "Trainer"]
