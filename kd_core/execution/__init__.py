"""Where trainings run: in this process, in local worker processes, or on a Ray cluster, behind one interface
(executors.py); what every executor shares (workers.py), and the module the fork server preloads (fork_server.py).

Tasks travel to workers by module path, so a moved task class must be moved with workers.PRELOAD.
May import: kd_core.train, kd_core.config and the packages below it.
"""
