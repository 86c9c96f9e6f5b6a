"""The Envoy gateway: its config template and the renderer that fills it from settings."""
