"""The web integration: `web.get` and `web.post`, through the SSRF-guarded transport `tools.http`.

Settings: WEB_ALLOWED_HOSTS (config/settings.py), hosts allowed although not public.
"""
