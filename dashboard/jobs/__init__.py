"""Background jobs: the runner (one thread per job, a few at once: runner.py), a run's progress with its ETA
(progress.py), and the honest estimate of a run's time before it starts (estimate.py).

May import: dashboard.figures, dashboard.text and kd_core.
"""
