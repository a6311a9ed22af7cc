"""Shipping a run's models: each model as the file a device would run (FP32 and int8 ONNX), and what that file
measures through onnxruntime — bytes, parameters, multiply-accumulates, accuracy, latency and throughput.

May import: kd_core.language, kd_core.runs and the packages below them.
"""
