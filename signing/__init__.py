"""PAdES signing, validation and key backends over pyHanko.

Importing the package puts two faster, behaviour-identical pyHanko helpers in place
(:mod:`signing.pyhanko_speedups`) and sends the signing libraries' routine log lines to
DEBUG (:mod:`signing.logs`).
"""

from signing.logs import quiet_signing_libraries as _quiet_libraries
from signing.pyhanko_speedups import install as _install_speedups

_install_speedups()
_quiet_libraries()
