"""The numerics check: the schedule run on real data in a simulated SRAM, compared with PyTorch.

Modules: ``kernels`` (a numpy kernel per op kind; families in ``kernels_conv``,
``kernels_resample``, ``kernels_eltwise``), ``quantize`` (storage at 8/16/32 bits, SQNR),
``memory`` (SRAM / DRAM byte images, the weight store with batch norms folded),
``interpreter`` (the golden dict run and the plan run; ``interpreter_stream`` for streamed
layers), ``reference`` (the torch side: seeded weights and input, every intermediate; the
only module here that imports torch), ``check`` (tolerances, comparisons, the report).
Importing this package imports neither torch nor the scheduler's internals.
"""

from hwsim.numerics.check import CheckResult, NumericsReport, check_model, check_plan

__all__ = ["CheckResult", "NumericsReport", "check_model", "check_plan"]
