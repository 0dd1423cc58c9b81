"""The bounded server check against real sockets on 127.0.0.1."""

from __future__ import annotations

from servers import answering_server, closed_port_url, hanging_server

from yolo_clearml_patch.clearml_side.server_probe import server_answers


def test_closed_port_is_no_answer_at_once():
    answered, waited = server_answers(closed_port_url(), timeout=5)
    assert answered is False and waited < 2


def test_hanging_server_is_no_answer_within_the_bound():
    with hanging_server() as url:
        answered, waited = server_answers(url, timeout=1.5)
    assert answered is False and 1.4 <= waited < 2.5


def test_answering_server_is_an_answer():
    with answering_server() as url:
        answered, waited = server_answers(url, timeout=5)
    assert answered is True and waited < 2
