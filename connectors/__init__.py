"""Targets the reconciler applies desired state to; one sub-package per target role."""
