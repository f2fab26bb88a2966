"""The analysis tool: statistics over CSV and JSON files of the drive, offline."""
