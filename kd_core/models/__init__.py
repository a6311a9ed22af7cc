"""kd_core/models."""
