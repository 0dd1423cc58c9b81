"""``python -m yolo_clearml_patch``: see :mod:`yolo_clearml_patch.runner`."""

from yolo_clearml_patch.runner import main

if __name__ == "__main__":
    main()
