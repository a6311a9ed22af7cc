"""kd_core/studies."""
