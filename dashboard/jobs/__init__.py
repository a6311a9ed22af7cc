"""dashboard/jobs."""
