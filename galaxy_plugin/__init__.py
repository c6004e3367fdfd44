"""The Galaxy file-source plugin for NeLS.

Not built yet (issue: "Galaxy: a NeLS file source ..."). Nothing here is
importable as a plugin today.
"""
