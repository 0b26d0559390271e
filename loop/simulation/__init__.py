"""Simulated annotators (oracles) and the scripted loops they answer in."""

from nudge.loop.simulation.oracles import Answer, apply_answer, make_oracle
from nudge.loop.simulation.simulate import SimulationConfig, simulate

__all__ = ["Answer", "SimulationConfig", "apply_answer", "make_oracle", "simulate"]
