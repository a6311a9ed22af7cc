"""Figures: Plotly figures as plain functions of plain data (plots.py for a run, experiments.py, methods.py,
board.py, closer.py, ship.py: the Pareto charts and the batch curve, language.py: bits per character, next
characters, the two modes), and charts.py, the one place that decides how a figure meets the screen.

May import: dashboard.text and kd_core.
"""
