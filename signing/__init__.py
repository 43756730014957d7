"""PAdES signing, validation and key backends over pyHanko.

Importing the package puts two faster, behaviour-identical pyHanko helpers in place
(:mod:`signing.pyhanko_speedups`).
"""

from signing.pyhanko_speedups import install as _install_speedups

_install_speedups()
