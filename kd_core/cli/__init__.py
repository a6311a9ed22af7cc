"""The command-line tools: ``kd-train`` (train.py) and ``kd-sweep`` (sweep.py), on what they share (common.py:
the run flags, exit codes, text tables) and the flags for data and a teacher of your own (own.py).

May import: every other package of kd_core (it is the top layer but for the public API in kd_core/__init__.py).
"""
