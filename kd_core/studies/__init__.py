"""Studies made of many runs: the lessons and their claims (lessons.py), sweeps of one setting (sweeps.py), Hinton's
experiments and the dark-knowledge views (experiments.py), the paper's numbers (paper.py), and a finished run
looked at closely: softened probabilities, the KL of one image, confusions, accuracy per class (inspection.py).

May import: kd_core.deploy, kd_core.language, kd_core.runs and every package below them.
"""
