"""Measure: a Trace (and the Plan it ran) -> Metrics, every figure the reports show."""

from hwsim.measure.bounds import Bounds, roofline
from hwsim.measure.energy import Energy
from hwsim.measure.metrics import LayerMetrics, Metrics, TensorMetrics, measure
from hwsim.measure.peak import Resident, SramPeak

__all__ = ["Bounds", "Energy", "LayerMetrics", "Metrics", "Resident", "SramPeak", "TensorMetrics",
           "measure", "roofline"]
