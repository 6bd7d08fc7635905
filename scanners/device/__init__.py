"""A handheld's own state: its key, its profile, its outbox, and the sync that empties it."""
