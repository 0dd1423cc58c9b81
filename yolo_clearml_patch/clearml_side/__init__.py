"""The ClearML side: which Task, the once-only logger, delivery, the exit guard, offline models, the
server probe.

Knows nothing of Ultralytics (never imports it); imports only ``base`` from the package.
"""
