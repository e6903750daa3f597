"""One call from scim-sync to another system (Graph, a webhook receiver, a file), and why it failed.

Shared by :mod:`connectors.entra` and :mod:`connectors.delivery`: the retry policy for an HTTP
request, and the errors that say whether trying again later can help. The errors keep their
``Delivery`` names, token delivery having been their first use, because the class name is part
of the ``last_error`` an operator reads in ``status``.
"""
