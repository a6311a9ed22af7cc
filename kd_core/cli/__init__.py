"""The command-line tools: ``kd-train`` (train.py) and ``kd-sweep`` (sweep.py), on what they share (common.py:
the run flags, exit codes, text tables), the flags for data and a teacher of your own (own.py),
``kd-train --ship`` (ship.py: a run's models as FP32 and int8 ONNX files, measured), and the two kinds of run
``kd-train`` hands on: a finding after Hinton (research.py) and a language model (language.py).

May import: every other package of kd_core (it is the top layer but for the public API in kd_core/__init__.py).
"""
