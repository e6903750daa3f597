"""What scim-sync hands to another system on its own initiative: a freshly minted SCIM token
(the Graph, file and webhook sinks) and alerts (a signed webhook)."""
