"""Reading what a sequencing facility delivered into a NeLS folder."""

from .reader import Delivery, DeliveryError, DeliveryIssue, Sample, read_delivery
from .samplesheet import SampleSheet, SampleSheetError, parse_sample_sheet

__all__ = [
    "Delivery",
    "DeliveryError",
    "DeliveryIssue",
    "Sample",
    "SampleSheet",
    "SampleSheetError",
    "parse_sample_sheet",
    "read_delivery",
]
