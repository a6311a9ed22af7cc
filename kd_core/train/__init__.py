"""kd_core/train."""
