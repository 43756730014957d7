"""The one compiled module: docmgmt.ledger._bulkhash (see docmgmt/ledger/bulkhash.py).

Everything else is declared in pyproject.toml. The module is optional: without a C
compiler or OpenSSL's headers (libssl-dev) the package still installs and the ledger
hashes through hashlib, one call per hash (slower; `docmgmt verify` says so, and
tests/ledger/test_bulkhash.py fails).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("docmgmt.ledger._bulkhash", ["docmgmt/ledger/_bulkhash.c"],
                             libraries=["crypto"], optional=True,
                             extra_compile_args=["-O2"])])
