"""Identity: agencies and their units, user accounts, credentials, login and sessions.

Each step is a module-level function that authorises, loads its aggregate once and saves
once; it takes the event store alone when that is all it needs, else the stage's
``IdentityContext`` (the store with credentials, login throttle and admin roster).
"""
