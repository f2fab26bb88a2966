"""The REST API, versioned under /api/v1/.

One package apart from the domain apps: authentication, throttling, errors,
pagination and the schema are decided once here for every endpoint, and the
views only translate HTTP to the apps' services (which check permissions)
and querysets (always through `tenancy.access.scope`).
"""
