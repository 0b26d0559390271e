"""The torch module of examples/custom_network.py, in a module of its own.

A session stores a custom class by its import name (here ``networks:ResidualMLP``),
so whatever resumes the session must import it again: the script that made it, or
`nudge serve` with this folder on PYTHONPATH. A class defined in the script being
run (``__main__``) could only be imported by that script, so it is refused.
"""

from torch import nn


class ResidualMLP(nn.Module):
    """Two SiLU blocks with a skip connection; n_features and n_classes are filled in by nudge."""

    def __init__(self, n_features: int, n_classes: int = 2, width: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.block = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.out = nn.Linear(width, n_classes)

    def forward(self, X):
        hidden = self.inp(X)
        return self.out(hidden + self.block(hidden))
