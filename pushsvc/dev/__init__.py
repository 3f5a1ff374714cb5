"""Development and test tooling, never used by the production processes.

``devpush`` is a local RFC 8030 push service (checks VAPID, decrypts every message), ``localfeed``
serves recorded feeds over HTTP, ``demo`` runs the whole system against both. Only the CLI commands
that launch them (``pushsvc devpush``, ``pushsvc demo``) import this package; import-linter checks it.
"""
