"""The client side of every handoff: label decoding, the device outbox and the offline verifier.

Today the pieces a device needs live in the core (``ledger.builder.DeviceSession`` builds and
signs events; ``ledger.verify`` checks them); this package will hold the I/O around them.
"""
