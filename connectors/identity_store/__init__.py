"""The Identity Manager store: identities keyed by user ID, groups and their members."""
