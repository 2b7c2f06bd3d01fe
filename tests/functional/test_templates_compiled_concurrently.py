"""A burst of first requests on a freshly started instance compiles its page templates in
several threads at once; every page must still render. bench-cluster's code-check burst
answered 500 there: CPython 3.11's AST constructor keeps its recursion counter in state
shared by all threads, so two threads building ASTs at once (one switched out by a garbage
collection in the middle) corrupt it: ``SystemError: AST constructor recursion depth
mismatch`` (see template_lock.py). The test makes that interleaving happen on purpose."""

import gc
import sys
import threading

#: A page whose ``python:`` expression is a long AST (many objects: collections run).
PAGE = '<p tal:define="a 1" tal:content="python: len([{}])">x</p>'.format(", ".join(["a"] * 300))


def _building_an_ast() -> bool:
    """Whether the finaliser runs inside Chameleon's ``compile(..., PyCF_ONLY_AST)``."""
    caller = sys._getframe(3)
    return caller.f_code.co_name == "parse" and caller.f_code.co_filename.endswith("astutil.py")


class _Interleaving:
    """The first thread pauses half-way through building an AST; the second starts one
    then and pauses half-way too; the first finishes (the order that corrupts the counter)."""

    def __init__(self):
        self.first_inside, self.second_inside, self.first_done, self.stop = (
            threading.Event() for _ in range(4)
        )

    def on_collection(self) -> None:
        name = threading.current_thread().name
        if not _building_an_ast():
            return
        if name == "first" and not self.first_inside.is_set():
            self.first_inside.set()
            self.second_inside.wait(3)  # the second builds one meanwhile (without the lock)
        elif name == "second" and not self.second_inside.is_set():
            self.second_inside.set()
            self.first_done.wait(3)  # the first one finishes while the second is half-way


class _Garbage:
    """Unreachable; its finaliser runs in whichever thread's allocation started a
    collection, and leaves the next one behind (so every collection finds one)."""

    interleaving: _Interleaving

    def __init__(self):
        self.cycle = self

    def __del__(self):
        if self.interleaving.stop.is_set():
            return
        self.interleaving.on_collection()
        _Garbage()


def test_a_page_compiled_while_another_thread_compiles_one_renders():
    from chameleon.zpt.template import PageTemplate

    import prorenata.videomote  # noqa: F401 - installs the lock, as Zope's start does

    steps = _Garbage.interleaving = _Interleaving()
    rendered: dict[str, str] = {}
    failures: dict[str, BaseException] = {}

    def compile_and_render(name: str) -> None:
        try:
            if name == "second":
                steps.first_inside.wait(20)
            rendered[name] = PageTemplate(f"{PAGE}<!-- {name} -->")()
        except Exception as error:  # noqa: BLE001 - what the user would get: a 500
            failures[name] = error
        finally:
            if name == "first":
                steps.first_done.set()

    thresholds = gc.get_threshold()
    gc.set_threshold(20, 1000, 1000)
    _Garbage()
    try:
        threads = [
            threading.Thread(target=compile_and_render, args=(name,), name=name)
            for name in ("first", "second")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        steps.stop.set()
        gc.set_threshold(*thresholds)
        gc.collect()
    assert steps.first_inside.is_set()  # the interleaving happened
    assert failures == {}
    assert rendered["first"].startswith("<p>300</p>")
    assert rendered["second"].startswith("<p>300</p>")
