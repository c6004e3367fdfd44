"""Deposition: ISA bundles to ENA (Webin XML), and later BioStudies."""
