"""Reporting: what one training, validation, export or run directory reports, shared by live
training and ``sync``. Imports only ``clearml_side`` and ``base`` from the package; never wrapt.
"""
