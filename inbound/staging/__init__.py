"""The staging store: what Entra asked for, its generations, the audit log and sync ledger."""
