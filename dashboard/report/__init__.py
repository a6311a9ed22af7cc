"""dashboard/report."""
