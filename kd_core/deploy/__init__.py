"""Shipping a run's models: each model as the file a device would run (FP32 and int8 ONNX), and what that file
measures through onnxruntime — bytes, parameters, multiply-accumulates, accuracy, latency and throughput.

    export.py     a model as one self-contained FP32 ONNX file (torch's default, dynamo exporter); DeployError
    quantize.py   FP32 -> int8 through onnxruntime.quantization: dynamic for MLPs, static QDQ per channel for CNNs,
                  calibrated on training images
    measure.py    a file's bytes, parameters, MACs, accuracy, agreement, latency, throughput and batch curve
    ship.py       a run's models -> files in a folder (all or none) and typed records; the summary over seeds
    lesson.py     a ship lesson's claim (ShipClaim) checked on the shipped files, seed by seed (check_ship_claim)

May import: kd_core.language, kd_core.runs and the packages below them.
"""
