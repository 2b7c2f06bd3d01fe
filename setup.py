"""Installer for the prorenata.videomote package."""

from pathlib import Path

from setuptools import Extension
from setuptools import find_namespace_packages
from setuptools import setup

long_description = Path("README.md").read_text(encoding="utf-8")

setup(
    name="prorenata.videomote",
    version="1.0.0.dev0",
    description="Säkert Videomöte: secure video meetings for a Plone school-health journal",
    long_description=long_description,
    long_description_content_type="text/markdown",
    classifiers=[
        "Environment :: Web Environment",
        "Framework :: Plone",
        "Framework :: Plone :: Addon",
        "Framework :: Plone :: 6.2",
        "Programming Language :: Python",
        "Programming Language :: Python :: 3.11",
        "Operating System :: OS Independent",
    ],
    keywords="Plone video meeting WebRTC aiortc CalDAV",
    author="Prorenata",
    license="GPL-2.0-only",
    packages=find_namespace_packages("src", include=["prorenata.*"]),
    package_dir={"": "src"},
    include_package_data=True,
    zip_safe=False,
    # The media server's per-packet send path (join, SRTP-protect, sendto) in C; a C
    # compiler and Python's headers are needed to install (see README, "Installing").
    ext_modules=[
        Extension(
            "prorenata.videomote.media._sendpath",
            [
                "src/prorenata/videomote/media/_sendpath.c",
                "src/prorenata/videomote/media/_receive.c",
                "src/prorenata/videomote/media/_lean.c",
            ],
            depends=["src/prorenata/videomote/media/_sendpath.h"],
            # The bandwidth estimate's arithmetic exactly as Python's: no fused multiply-add,
            # and pow(x, 2) a call of libm's pow as Python's x ** 2 is (not x * x).
            extra_compile_args=["-O2", "-Wall", "-ffp-contract=off", "-fno-builtin-pow"],
        )
    ],
    python_requires=">=3.11",
    install_requires=[
        "setuptools",
        "Products.CMFPlone",
        "Products.GenericSetup",
        "plone.api",
        "plone.app.dexterity",
        "plone.app.event",
        "plone.app.registry",
        "plone.restapi",
        "collective.z3cform.datagridfield",
        "phonenumbers",
        "email-validator",
        "icalendar",
        "caldav",
        "aiohttp",
        "aiortc",
        "uvloop",
        "requests",
        "cryptography",
    ],
    extras_require={
        "test": [
            "pytest",
            "pytest-plone",
            "plone.app.testing",
            "plone.classicui",
            "aiosmtpd",
            "radicale",
            "xandikos",
            "playwright",
            "websocket-client",
            "requests",
            "ruff",
            "zpretty",
            "i18ndude",
            "hypothesis",
        ],
        # The production topology (make run-cluster): RelStorage on PostgreSQL. The
        # binary psycopg2 wheel, so no compiler or libpq headers are needed.
        "cluster": [
            "RelStorage",
            "psycopg2-binary",
        ],
    },
    entry_points={
        "z3c.autoinclude.plugin": ["target = plone"],
        "console_scripts": [
            "videomote-caldav-sync = prorenata.videomote.caldav_bridge.worker:main",
            "videomote-media = prorenata.videomote.media.server:main",
        ],
    },
)
