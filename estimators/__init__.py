"""The network, its training objectives and the text encoders."""

from estimators.classifier import DirectionClassifier, softmax_rows
from estimators.losses import (
    OBJECTIVES,
    CrossEntropyObjective,
    DirectionObjective,
    GradientSupervisionObjective,
    direction_loss,
    gradient_supervision_loss,
)
from estimators.modules import MLP
from estimators.targets import pack_targets, unpack_targets

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
