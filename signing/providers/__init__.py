"""Signing providers: the services behind ``signing.remote.SigningProvider``.

``csc`` (Cloud Signature Consortium API v1), ``confirm`` (a service that waits for the
signer's confirmation on a phone), ``dev`` (the development PKI's key) and ``server`` (a key
the server holds, named under "users" in the keys file).
"""
