"""The ``nels-bundle`` command: the one place that sees every package."""
