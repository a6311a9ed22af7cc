"""kd_core/board."""
