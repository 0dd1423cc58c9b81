"""Report Ultralytics YOLO training to ClearML without touching the training script.

Importing this package turns the shim on (unless ``YOLO_CLEARML_PATCH=0``). It stays cheap until
Ultralytics itself is imported: no ultralytics, torch, clearml or wrapt is imported here.
"""

from ._version import __version__
from .activation import is_patched, patch, unpatch
from .base.settings import ConfigurationError, configure

__all__ = ["ConfigurationError", "__version__", "configure", "is_patched", "patch", "unpatch"]

from .activation import activate_from_environment as _activate

_activate()
