"""End to end: reporting failures never fail training; user errors pass through; the user's own Task."""

from __future__ import annotations

import json

from expectations import assert_complete


def test_reporting_failure_is_logged_once_and_training_finishes(train):
    result = train("runner", "detect", "--break-reporting", env={"YOLO_CLEARML_PATCH_STRICT": "0"})
    result.assert_finished()
    warnings = [line for line in result.proc.stderr.splitlines() if "injected reporting failure" in line]
    assert warnings, result.output[-3000:]
    assert len(warnings) == len(set(warnings)), "the same failure was logged more than once"
    # everything that does not go through report_scalar still arrives
    session = result.session
    assert session.images("Mosaic") and session.images("Validation") and session.titles("plot")
    assert session.output_models()


def test_strict_mode_reraises_the_shims_own_errors(train):
    result = train("runner", "detect", "--break-reporting", "--epochs", "1")
    assert result.proc.returncode != 0
    assert "RuntimeError: injected reporting failure" in result.proc.stderr


def test_user_exception_reaches_the_caller_unchanged(train):
    result = train("runner", "detect", "--raise-in-callback", "--epochs", "1")
    assert result.proc.returncode == 1
    assert result.proc.stderr.rstrip().splitlines()[-1] == "ValueError: user callback failed on purpose"


def test_existing_user_task_is_used_with_bindings_off(train):
    result = train("import", "detect", "--user-task")
    result.assert_finished()
    task_id = next(
        line.split("=", 1)[1] for line in result.proc.stdout.splitlines() if line.startswith("USER_TASK_ID=")
    )
    session = result.session  # exactly one session: the shim created no second Task
    assert session.task["id"] == task_id and session.task["project_name"] == "user-project"
    assert json.loads(result.marker("BINDINGS")) == {"pytorch": False, "matplotlib": False}
    assert_complete(session, result.run_dir)
