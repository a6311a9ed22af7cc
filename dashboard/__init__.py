"""kd-dashboard's Streamlit page (app.py) and the pieces it is built from: figures, background jobs, runs."""
