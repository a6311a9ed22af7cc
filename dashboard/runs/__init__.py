"""dashboard/runs."""
