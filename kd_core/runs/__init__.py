"""A run, from settings to results: the setup shared by its students (setup.py), the run itself (pipeline.py), the
caches of trained models and finished runs (cache.py) and what they give back (stored.py), a setting over several
seeds with its verdict (seeds.py), a seed's run in a background worker (background.py), the paper's transfer
reports with their bias correction (transfer.py, bias.py), and finished runs served to many clients with their test
logits and latency: the memo of the last ones, one run per key at a time (served.py).

May import: kd_core.execution, kd_core.train, kd_core.config and the packages below them.
"""
