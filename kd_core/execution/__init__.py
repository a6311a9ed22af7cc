"""kd_core/execution."""
