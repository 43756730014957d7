"""PAdES signing, validation and key backends over pyHanko.

Importing the package sends the signing libraries' routine log lines to DEBUG
(:mod:`signing.logs`). It replaces nothing inside pyHanko: the faster helpers live in
``docmgmt.compat`` and the composition root installs them.
"""

from signing.logs import quiet_signing_libraries as _quiet_libraries

_quiet_libraries()
