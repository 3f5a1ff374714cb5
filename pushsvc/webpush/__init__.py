"""Web Push plumbing shared by subscriptions (public key) and delivery (signing, encryption)."""
