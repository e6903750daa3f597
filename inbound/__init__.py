"""The SCIM 2.0 service provider Entra talks to, its staging store, and the admin API."""
