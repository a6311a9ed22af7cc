"""Models: the teacher and student architectures by name (architectures.py), a teacher of your own from an ONNX
file or a state_dict (own_teacher.py), and the measured inference time of a model (latency.py).

May import: kd_core.data, and the modules at the top of kd_core (stats, files).
"""
