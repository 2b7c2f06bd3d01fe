"""Page templates are compiled one at a time in each process.

Chameleon compiles a template (and its ``python:`` expressions) on its first render, in
whichever request thread gets there first, by building Python ASTs. CPython 3.11 keeps
the AST constructor's recursion counter in per-interpreter state: two threads building
ASTs at once (a thread switch during a garbage collection inside one) corrupt it, and one
of them fails with ``SystemError: AST constructor recursion depth mismatch``; the page
answers 500 and the template stays half-made for that thread's next requests. A burst of
code checks on an instance whose cache is cold (just started, cleared template cache) hit
exactly that (bench-cluster). Compiling is a one-time cost per template and process, so
one process-wide lock around it costs nothing once warm.
"""

from chameleon.template import BaseTemplate

import threading

_LOCK = threading.RLock()  # re-entrant: a template may cook another while cooking


def install() -> None:
    """Wrap ``chameleon.template.BaseTemplate.cook`` (every Zope page template, TALES and
    ``python:`` expressions included, is compiled through it) in the lock; idempotent."""
    cook = BaseTemplate.cook
    if getattr(cook, "videomote_locked", False):
        return

    def locked_cook(self, body):
        with _LOCK:
            return cook(self, body)

    locked_cook.videomote_locked = True
    locked_cook.__doc__ = cook.__doc__
    BaseTemplate.cook = locked_cook
