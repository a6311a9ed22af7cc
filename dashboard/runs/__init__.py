"""What the page's buttons start, as background jobs: a Distill (distill.py), its seeds (seeds.py), the Methods
tab's comparison (methods.py), Hinton's experiments (experiments.py), the files a run can be taken away as
(exports.py), a run's models shipped as ONNX files and measured (ship.py), and a language model distilled
(language.py).  The training itself is kd_core's.

May import: dashboard.jobs, dashboard.figures, dashboard.text and kd_core.
"""
