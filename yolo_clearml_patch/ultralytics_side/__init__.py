"""The Ultralytics side: the wrapt targets, and what each Ultralytics lifecycle point does (trainer,
validator, DDP launch, remote overrides, tuner, exporter, the upstream callback).

The only layer that imports wrapt. Imported once Ultralytics itself is being imported.
"""
