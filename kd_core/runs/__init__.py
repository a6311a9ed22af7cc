"""kd_core/runs."""
