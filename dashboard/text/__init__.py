"""Words: the page's sentences as plain functions of numbers and settings — English rules (wording.py), the
verdict over seeds (verdict.py), a run's settings in words (run_settings.py), a shipment's sentences (ship.py),
the language model's (language.py).  No Streamlit.

May import: kd_core only.
"""
