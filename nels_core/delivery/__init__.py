"""Reading what a sequencing facility delivered into a NeLS folder."""

from .reader import (
    SAMPLE_SHEET_NAMES,
    Delivery,
    DeliveryError,
    DeliveryIssue,
    Sample,
    is_data_file,
    read_delivery,
)
from .samplesheet import SampleSheet, SampleSheetError, parse_sample_sheet

__all__ = [
    "SAMPLE_SHEET_NAMES",
    "is_data_file",
    "Delivery",
    "DeliveryError",
    "DeliveryIssue",
    "Sample",
    "SampleSheet",
    "SampleSheetError",
    "parse_sample_sheet",
    "read_delivery",
]
