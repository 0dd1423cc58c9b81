"""Build hook: ship the env-gated ``yolo_clearml_patch.pth`` at the top of site-packages.

All metadata lives in setup.cfg.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "yolo_clearml_patch.pth"


class BuildPyWithPth(build_py):
    """build_py that also copies the .pth file next to the package."""

    def run(self):
        super().run()
        shutil.copyfile(Path(__file__).with_name(PTH), Path(self.build_lib) / PTH)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH)]


setup(cmdclass={"build_py": BuildPyWithPth})
