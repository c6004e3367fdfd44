"""NeLS folders described as ISA: mapping, metadata sheet, ISA-Tab, ISA-JSON,
RO-Crate and manifest writers, and the isatools validators."""
