# Makes notebooks/conftest.py import as "notebooks.conftest", so that it does not shadow
# tests/conftest.py (the tests import REPO from "conftest"). The notebooks are not a package.
