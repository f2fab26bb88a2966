"""The calendar integration: the `calendar.*` tools over CalDAV (or the built-in calendar), client and settings."""
