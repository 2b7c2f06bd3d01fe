"""Säkert Videomöte: secure video meetings for a Plone school-health journal."""

from zope.i18nmessageid import MessageFactory

import logging

PACKAGE_NAME = "prorenata.videomote"

_ = MessageFactory(PACKAGE_NAME)

logger = logging.getLogger(PACKAGE_NAME)


def _compile_templates_one_at_a_time() -> None:
    from prorenata.videomote import template_lock

    template_lock.install()


_compile_templates_one_at_a_time()
