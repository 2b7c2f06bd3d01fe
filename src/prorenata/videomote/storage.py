"""Where the add-on keeps its own data: annotations on the site or on a meeting."""

from zope.annotation.interfaces import IAnnotations


def annotated(context, key: str, factory, create: bool = True):
    """The object stored under ``key`` on ``context``; made with ``factory`` if missing.

    Returns None when it is missing and ``create`` is false (so reads never write).
    """
    annotations = IAnnotations(context)
    value = annotations.get(key)
    if value is None and create:
        value = annotations[key] = factory()
    return value
