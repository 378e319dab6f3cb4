"""For `scrapyd-deploy`, which builds its egg with `python setup.py bdist_egg` (and would
write a setup.py packing every folder if none existed). Everything is in pyproject.toml."""

from setuptools import setup

setup()
