"""The shared NeLS core: model, access rules, storage, REST client.

Knows nothing of Galaxy, Flask or SEEK, and imports only light dependencies
so that Galaxy's own environment can load it.
"""

__version__ = "0.1.0"
