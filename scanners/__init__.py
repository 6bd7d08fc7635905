"""The client side of every handoff: label decoding and parsing, the device keystore, the
outbox and its sync, the offline verifier, the handheld UI and the ``chemtrace scan`` commands.

The core (``ledger``) builds, signs and verifies; this package adds the I/O a device needs
around it: camera images, keyboard-wedge text, a local SQLite outbox, files and the network.
"""
