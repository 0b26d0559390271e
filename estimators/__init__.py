"""The network, its training objectives and the text encoders."""

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
from nudge.estimators.targets import pack_targets, unpack_targets

__all__ = [
    "OBJECTIVES",
    "CrossEntropyObjective",
    "DirectionClassifier",
    "DirectionObjective",
    "GradientSupervisionObjective",
    "MLP",
    "direction_loss",
    "gradient_supervision_loss",
    "pack_targets",
    "softmax_rows",
    "unpack_targets",
]
