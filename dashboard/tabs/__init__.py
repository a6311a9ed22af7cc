"""The dashboard's tabs, one module each, each with one ``render(...)``; dashboard/app.py lists them.

May import: every other dashboard package (report, page, runs, jobs, figures, text) and kd_core.
"""
