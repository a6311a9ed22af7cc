"""The dashboard's tabs, one module each, each with one ``render(...)``; dashboard/app.py lists them.  Here the
views of a run (distill, probabilities, draw, look_closer, ship, explanation, history, class_board) and the
language model's (language); the experiments' tabs are in tabs/experiments/.

May import: every other dashboard package (report, page, runs, jobs, figures, text) and kd_core.
"""
