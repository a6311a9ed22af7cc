"""The page's frame: the sidebar and its choices, shareable links, one record per browser (sessions.py), uploads
and their panel, style and accessibility, headings, the job panel every tab uses, and the resources the tabs share.

May import: dashboard.runs, dashboard.jobs, dashboard.figures, dashboard.text and kd_core.
"""
