"""Training one model: the loop, evaluation and inference (loop.py), the typed records a run produces (records.py),
and the CPU fast paths the loop applies when they give the same numbers (fastpaths.py).

May import: kd_core.config, kd_core.methods, kd_core.models, kd_core.data, and kd_core.stats / kd_core.files.
"""
