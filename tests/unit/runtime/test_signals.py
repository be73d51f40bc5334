"""SIGINT/SIGTERM become a stop event, counted, with the previous handlers restored."""

from __future__ import annotations

import os
import signal
import threading

from shopstream.runtime.signals import Stop, stop_on_signals


def test_signals_set_the_event_count_and_restore_the_handlers() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with stop_on_signals() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set() and stop.signals == 1
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C: counted, not KeyboardInterrupt
        assert stop.signals == 2
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_given_stop_is_the_one_set() -> None:
    stop = Stop()
    with stop_on_signals(stop) as got:
        os.kill(os.getpid(), signal.SIGTERM)
    assert got is stop and stop.is_set() and stop.signals == 1


def test_off_the_main_thread_handlers_are_left_alone() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def body() -> None:
        with stop_on_signals() as stop:
            seen.append(signal.getsignal(signal.SIGINT))
            stop.set()  # only code can set it here
            seen.append(stop.is_set())

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before, True]
