"""The class board: every finished run in a results folder as KD − baseline against one setting (collect.py), the
sweeps' runs stored for it (sweeps.py), and a fresh start that hides earlier runs (start.py).

May import: kd_core.studies, kd_core.runs and every package below them.
"""
