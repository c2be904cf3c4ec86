"""The numerics check: the schedule run on real data in a simulated SRAM, checked bit for bit against
the quantised network, and the quantisation measured against PyTorch in float.

Modules: ``kernels`` (a numpy kernel per op kind; families in ``kernels_conv``,
``kernels_resample``, ``kernels_eltwise``), ``quantize`` (storage at 8/16/32 bits: symmetric,
per-channel, asymmetric; SQNR), ``deploy`` (which format each tensor gets: per-channel weights,
calibrated activation ranges, shared formats of concatenations), ``memory`` (SRAM / DRAM byte
images that remember who wrote each byte, the weight store with batch norms folded),
``interpreter`` (the plan run; ``interpreter_stream`` for streamed layers,
``interpreter_cascade`` for stripes), ``golden`` (the quantised network with no memory model),
``exact`` (the byte-level schedule check and its faults), ``quality`` (errors against torch,
thresholds), ``reference`` (the torch side: seeded or loaded weights, the input, calibration
runs, every intermediate; with ``user_files`` the only modules here that import torch),
``check`` (both questions, the report).
Importing this package imports neither torch nor the scheduler's internals.
"""

from hwsim.numerics.check import CheckResult, NumericsReport, check_model, check_plan

__all__ = ["CheckResult", "NumericsReport", "check_model", "check_plan"]
