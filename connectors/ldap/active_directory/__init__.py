"""Active Directory as a directory kind of the LDAP target: the rules AD adds to plain LDAP.

AD names an account twice (``CN=<display name>`` in its container, and a ``sAMAccountName`` of
at most 20 characters unique in the domain), keeps the enabled state in bit 2 of
``userAccountControl``, takes passwords only as ``unicodePwd`` over an encrypted connection,
anchors objects by ``objectGUID``, hands out large memberships in ranges, and explains its
refusals in an extended error code inside ``diagnosticMessage``. Each module here holds one of
those rules as plain functions over values, so the planner can use them and the tests can prove
them against a real domain controller. Where Samba and Windows AD differ, the Windows rule is the
one implemented (docs/active-directory.md lists the differences).
"""
