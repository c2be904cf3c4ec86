"""Design-space sweeps: a grid of accelerator settings x graphs -> one results row per point.

``axes`` (parsing ``--sram 128KiB:8MiB:x2``), ``grid`` (grid files, points), ``graphs``
(graph files, zoo models extracted per input size), ``run`` (one point, a pure function),
``executors`` (in process, process pool, Dask), ``progress`` (progress.jsonl, atomic
files, progress bar), ``knee`` (zero-spill SRAM and the knee of the spill curve),
``driver`` (the straight sweep driver).
"""
