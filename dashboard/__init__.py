"""kd-dashboard's Streamlit page: app.py (main() dispatches to one function per tab) and launch.py (the
``kd-dashboard`` command), over packages in layers, each of which may import only those listed before it:

    text      words: plain functions from numbers and settings to sentences (no Streamlit)
    figures   Plotly figures: plain functions of plain data, and charts.show, the one way a figure meets the screen
    jobs      background jobs: the runner, their progress and the estimate of a run's time
    runs      what the buttons start: thin wrappers over kd_core run as jobs
    page      the page's frame: sidebar, links, sessions, uploads, style, the job panel, shared resources
    report    the Distill report: the verdict over seeds and its details
    tabs      one module per tab, each with one render(...)

Every package may import kd_core; kd_core never imports the dashboard.
"""
