"""`stratus api`: Stratus behind Keystone v3 and Nova's REST API, for OpenStack's own clients (docs/api.md).

Layered like the collection's controller code: ``app`` (routes, thin) over ``auth`` (the caller from a token),
``identity`` (projects, users, roles, tokens in the state store), ``views`` (response bodies), ``microversion``
and ``errors`` (the one error mapping at the edge); ``inventory`` reads the catalog the modules read.
"""
