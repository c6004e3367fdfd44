"""Pauses of the cycle collector may overlap (two exports on a web worker's
threads): it comes back when the last ends, as it was before the first."""

import gc
import threading

from nels_core import collector


def test_the_collector_comes_back_when_the_last_pause_ends():
    assert gc.isenabled()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def second():
        first_in.wait()
        with collector.paused():
            second_in.set()
            first_out.wait()
            seen.append(gc.isenabled())  # the first pause has ended, this one has not

    other = threading.Thread(target=second)
    other.start()
    with collector.paused():
        first_in.set()
        second_in.wait()
    first_out.set()
    other.join()
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with collector.paused():
            with collector.paused():
                pass
        assert not gc.isenabled()
    finally:
        gc.enable()
