"""The experiment tabs: Hinton's experiments (T & λ sweep, little data, an unseen class, dark knowledge) and the
methods that came after him side by side, each one module with one ``render(config)``; dashboard/app.py lists them.

May import: every other dashboard package (report, page, runs, jobs, figures, text) and kd_core.
"""
