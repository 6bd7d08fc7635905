"""The only place SQL lives: SQLAlchemy tables and the repository behind the ledger's ports."""
