"""The ``jadis`` command line: one thin module per command group, all logic in the library."""
