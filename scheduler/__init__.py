"""The process entry point: settings, composition, jobs and the ``scim-sync`` command."""
