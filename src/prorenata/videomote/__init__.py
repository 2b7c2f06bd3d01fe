"""Säkert Videomöte: secure video meetings for a Plone school-health journal."""

from zope.i18nmessageid import MessageFactory

import logging

PACKAGE_NAME = "prorenata.videomote"

_ = MessageFactory(PACKAGE_NAME)

logger = logging.getLogger(PACKAGE_NAME)

# Imported after ``_`` and ``logger`` exist (modules of this package import them).
from prorenata.videomote import template_lock  # noqa: E402

template_lock.install()  # page templates compile one at a time (see template_lock)
