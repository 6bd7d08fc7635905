"""chemtrace's shells around the core: the CLI today, the HTTP service next."""
