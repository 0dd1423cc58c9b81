"""End to end against the test ClearML server: real Ultralytics training, the real clearml SDK, online."""

from __future__ import annotations

import pytest
from expectations import assert_complete
from server_task import ServerTask


def only_task(server) -> ServerTask:
    with server.state.lock:
        ids = list(server.state.tasks)
    assert len(ids) == 1, [server.state.tasks[i]["name"] for i in ids]
    return ServerTask(server.state, ids[0])


@pytest.mark.parametrize(("way", "task"), [("runner", "detect"), ("import", "detect"), ("pth", "classify")])
def test_each_way_in_reports_everything_online(train, clearml_server, way, task):
    result = train(way, task, env=clearml_server.env())
    result.assert_finished()
    assert result.sessions == []  # online: no offline session
    reported = only_task(clearml_server)
    assert_complete(reported, result.run_dir)
    assert reported.task["status"] == "completed"
    assert clearml_server.state.schema_errors == []
