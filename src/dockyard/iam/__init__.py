"""Identity and access: principals, access keys, SigV4, registry passwords, policy evaluation."""
