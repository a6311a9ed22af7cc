"""The command-line tools: ``kd-train`` (cli/train.py) and ``kd-sweep`` (cli/sweep.py), on cli/common.py."""
