"""kd_core/methods."""
