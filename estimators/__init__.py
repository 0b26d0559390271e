"""The network, its training objectives, the text encoders, and a trained model saved for use elsewhere."""

from nudge.estimators.classifier import DirectionClassifier, softmax_rows
from nudge.estimators.losses import (
    OBJECTIVES,
    CrossEntropyObjective,
    DirectionObjective,
    GradientSupervisionObjective,
    direction_loss,
    gradient_supervision_loss,
)
from nudge.estimators.modules import MLP
from nudge.estimators.saved_model import ModelCard, SavedModel, load_model, save_model
from nudge.estimators.targets import pack_targets, unpack_targets

__all__ = [
    "OBJECTIVES",
    "CrossEntropyObjective",
    "DirectionClassifier",
    "DirectionObjective",
    "GradientSupervisionObjective",
    "MLP",
    "ModelCard",
    "SavedModel",
    "direction_loss",
    "gradient_supervision_loss",
    "load_model",
    "pack_targets",
    "save_model",
    "softmax_rows",
    "unpack_targets",
]
