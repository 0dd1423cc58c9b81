"""Prints, as JSON, what a program sees: argv, __name__, sys.path[0], whether the shim is on, and the
same for a child Python process it starts. Exits with the code given as the last argument."""

import json
import subprocess
import sys

import yolo_clearml_patch as y

CHILD = (
    "import json, os, sys; m = sys.modules.get('yolo_clearml_patch');"
    "print(json.dumps([m is not None and m.is_patched(), 'USER_SITE' in os.environ]))"
)
child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
state = {"argv": sys.argv, "name": __name__, "on": y.is_patched(), "path0": sys.path[0]}
print(json.dumps({**state, "child": json.loads(child.stdout)}))
sys.exit(int(sys.argv[-1]))
