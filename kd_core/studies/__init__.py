"""Studies made of many runs: the lessons and their claims (lessons.py), sweeps of one setting (sweeps.py), Hinton's
experiments and the dark-knowledge views (experiments.py), and the paper's numbers (paper.py).

May import: kd_core.runs and every package below it.
"""
