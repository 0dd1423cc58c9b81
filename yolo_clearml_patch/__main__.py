"""``python -m yolo_clearml_patch``: see :mod:`yolo_clearml_patch.cli`."""

from yolo_clearml_patch.cli import main

if __name__ == "__main__":
    main()
