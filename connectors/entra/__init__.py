"""Entra's side of provisioning, read through Microsoft Graph: the app-only session, its
settings, the provisioning job's health and its provisioning log."""
