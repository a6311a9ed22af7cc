"""Imported by the fork server (it is in ``workers.PRELOAD``): the workers forked from it never run the parent's
main script.

Before a child of a fork server unpickles its task, multiprocessing re-runs the parent's ``__main__`` in it as
``__mp_main__`` — a Streamlit page, an AppTest script (which dies there with ``NameError: __args``), a console
script.  Our workers never need it: their tasks are functions of kd_core and dashboard, unpickled by module name.
The parent cannot reliably stop this on its side: Streamlit installs a fresh ``__main__`` at every rerun, from
another thread, at any moment before a worker starts.  So the fork server skips that step, and every worker it
forks inherits the change.

Imported anywhere else it changes nothing: only a child process prepares itself (``spawn.prepare``), and the
parent's own children that are not forked from here (plain fork, spawn) do not inherit it.
"""

from __future__ import annotations

from multiprocessing import spawn


def _leave_main_alone(_main: str) -> None:
    """In place of ``spawn._fixup_main_from_path`` and ``spawn._fixup_main_from_name`` (CPython 3.8-3.13)."""


spawn._fixup_main_from_path = _leave_main_alone
spawn._fixup_main_from_name = _leave_main_alone
