"""The report tool: a Markdown report in the drive, written from earlier steps' outputs."""
