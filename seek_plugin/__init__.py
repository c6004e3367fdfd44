"""The SEEK / FAIRDOMHub extension for NeLS.

Not built yet (issue: "SEEK extension ..."). Nothing here works today.
"""
