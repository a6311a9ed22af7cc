"""dashboard/page."""
