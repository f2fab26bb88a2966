"""The e-mail integration: `email.send`, its exactly-once delivery record and the built-in outbox.

Settings: EMAIL_URL (SMTP through Django's backend; unset, the outbox of .eml
files under OUTBOX_DIR) and DEFAULT_FROM_EMAIL (config/settings.py).
"""
