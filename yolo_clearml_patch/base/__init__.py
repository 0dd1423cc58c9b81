"""Base layer: settings, error isolation, logging, the on/off switch, the version gate, the run record.

Imports nothing of the package above it, and never clearml, wrapt, ultralytics or torch.
"""
