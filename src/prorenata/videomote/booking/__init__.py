"""The booking rules: plain Python, no Zope imports beyond message ids."""
