"""The Galaxy file-source plugin for NeLS (``plugin_type: nels``).

``homes`` turns a resolved plugin configuration into a user's NeLS home and
needs nothing from Galaxy; ``file_source`` is the Galaxy glue and imports
``galaxy.files``; ``install`` places the one-line module through which
Galaxy finds the plugin.
"""
