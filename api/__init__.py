"""chemtrace's shells around the core: the HTTP service, its workers, the CLI, and the witness."""
