"""The Distill tab's report: the verdict over seeds on top and the details below (summary.py), the parts only some
runs have (extras.py), and History's summary table (history_table.py).

May import: dashboard.page, dashboard.runs, dashboard.jobs, dashboard.figures, dashboard.text and kd_core.
"""
