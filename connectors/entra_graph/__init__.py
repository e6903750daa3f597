"""Token delivery: where the renewal job puts a freshly minted SCIM token (Graph, file, webhook)."""
