"""The core of scim-sync: desired state, planning and the level-triggered run loop.

It knows no web framework, database or LDAP library; the staging store and the connectors
implement the small interfaces in :mod:`reconcile.ports`.
"""
