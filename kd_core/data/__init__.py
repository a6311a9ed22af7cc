"""kd_core/data."""
