"""The dashboard's tabs, one module each, each with one ``render(...)``; dashboard/app.py lists them."""
