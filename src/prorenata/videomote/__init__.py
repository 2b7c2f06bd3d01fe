"""Säkert Videomöte: secure video meetings for a Plone school-health journal."""

from zope.i18nmessageid import MessageFactory

import logging

PACKAGE_NAME = "prorenata.videomote"

_ = MessageFactory(PACKAGE_NAME)

logger = logging.getLogger(PACKAGE_NAME)
