"""HTTP: the SCIM routes Entra calls, the admin API, health probes."""
