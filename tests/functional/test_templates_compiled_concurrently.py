"""A burst of first requests on a freshly started instance compiles its page templates in
several threads at once; every page must still render. bench-cluster's code-check burst
answered 500 there: CPython 3.11's AST constructor is not safe to use from two threads at
once (``SystemError: AST constructor recursion depth mismatch``, see template_lock.py)."""

import gc
import threading
import time

#: A page with long ``python:`` expressions: its compiling is mostly AST building.
ITEMS = ", ".join(f"(a, {n}, b)" for n in range(60))
PAGE = (
    '<ul tal:define="a 1; b 2">'
    + "".join(f'<li tal:content="python: len([{ITEMS}]) + {n}">x</li>' for n in range(4))
    + "</ul>"
)


class _YieldsWhenCollected:
    """A garbage collection in the middle of an AST being built runs this finaliser, which
    lets another thread run there (what a busy Zope process does now and then)."""

    def __del__(self):
        time.sleep(0)


def test_pages_compiled_by_many_threads_at_once_all_render():
    from chameleon.zpt.template import PageTemplate

    import prorenata.videomote  # noqa: F401 - installs the lock, as Zope's start does

    rendered: list[str] = []
    failures: list[BaseException] = []
    deadline = time.monotonic() + 60

    def compile_and_render(thread: int) -> None:
        for round_ in range(3):
            if time.monotonic() > deadline:
                return
            garbage = [_YieldsWhenCollected() for _ in range(30)]
            garbage.append(garbage)  # a cycle: freed by the collector, not at once
            del garbage
            try:
                # each its own page (a fresh compile, as on a cold instance)
                page = PageTemplate(PAGE + f"<!-- {thread} {round_} -->")
                rendered.append(page())
            except SystemError as error:
                failures.append(error)

    thresholds = gc.get_threshold()
    gc.set_threshold(5, 1, 1)
    try:
        threads = [threading.Thread(target=compile_and_render, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    finally:
        gc.set_threshold(*thresholds)
    assert failures == []
    assert len(rendered) == 6 * 3
    assert all("<li>62</li>" in page for page in rendered)
