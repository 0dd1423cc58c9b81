"""``python -m yolo_clearml_patch``: argv, __main__, exit codes, modules, child processes, chaining."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_python

SHOW = (Path(__file__).parent / "scripts" / "show_state.py").read_text()


def _last_json(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_script_gets_its_argv_main_and_exit_code(child_env, tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SHOW)
    proc = run_python(["-m", "yolo_clearml_patch", str(script), "--flag", "value", "3"], child_env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    shown = _last_json(proc)
    assert shown["argv"] == [str(script), "--flag", "value", "3"]
    assert shown["name"] == "__main__" and shown["on"] is True and shown["path0"] == str(tmp_path)
    assert shown["child"] == [True, False]  # a child Python process is patched too


def test_module_target(child_env, tmp_path):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "job.py").write_text(SHOW)
    proc = run_python(["-m", "yolo_clearml_patch", "-m", "mypkg.job", "a", "0"], child_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shown = _last_json(proc)
    assert shown["argv"] == [str(tmp_path / "mypkg" / "job.py"), "a", "0"] and shown["name"] == "__main__"


def test_exception_propagates_with_exit_code_1(child_env, tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("raise KeyError('boom')\n")
    proc = run_python(["-m", "yolo_clearml_patch", str(script)], child_env, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.rstrip().splitlines()[-1] == "KeyError: 'boom'"


def test_users_sitecustomize_still_runs_in_children(child_env, tmp_path):
    site = tmp_path / "usersite"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE'] = '1'\n")
    script = tmp_path / "prog.py"
    script.write_text(SHOW)
    env = {**child_env, "PYTHONPATH": str(site)}
    proc = run_python(["-m", "yolo_clearml_patch", str(script), "0"], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _last_json(proc)["child"] == [True, True]


def test_kill_switch_applies_to_the_runner(child_env, tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SHOW)
    env = {**child_env, "YOLO_CLEARML_PATCH": "0"}
    proc = run_python(["-m", "yolo_clearml_patch", str(script), "0"], env, cwd=tmp_path)
    shown = _last_json(proc)
    assert shown["on"] is False and shown["child"] == [False, False]


def test_usage_without_target(child_env, tmp_path):
    proc = run_python(["-m", "yolo_clearml_patch"], child_env, cwd=tmp_path)
    assert (
        proc.returncode == 2 and "usage: yolo-clearml" in proc.stdout and "python -m yolo_clearml_patch" in proc.stdout
    )
    assert "yolo-clearml sync RUN_DIR" in proc.stdout and "yolo-clearml --check" in proc.stdout
