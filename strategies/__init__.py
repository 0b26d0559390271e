"""What to ask next: query strategies for modAL's ActiveLearner."""

from strategies import compat  # noqa: F401  (installs the modAL shim first)
