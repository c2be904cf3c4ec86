"""Simulation: a Plan run on an accelerator spec, recorded as a Trace of events."""

from hwsim.sim.engine import simulate
from hwsim.sim.trace import Event, OccupancySample, Trace

__all__ = ["Event", "OccupancySample", "Trace", "simulate"]
