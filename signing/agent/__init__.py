"""``docmgmt agent``: the local signing agent a leader runs on their own PC with their token.

It listens on 127.0.0.1 only, obeys one docmgmt origin, and signs digests with the PKCS#11
token after the leader types the PIN on the agent's own confirm page (sign15 §4).
"""
