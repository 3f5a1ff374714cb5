"""Web Push plumbing shared by subscriptions (public key) and delivery (signing, encryption), and the
server's VAPID key wiring (``identity``: loaded at start, checked against the recorded fingerprint)."""
