"""Datasets: the built-in ones by name (datasets.py), data of your own from a folder or a CSV (custom.py), what a
dataset is to the engine (spec.py), and a digit drawn on the page turned into a model input (drawing.py).

May import: kd_core.stats and kd_core.files only.
"""
