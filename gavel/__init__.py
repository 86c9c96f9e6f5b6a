"""Code shared by Gavel's services: settings, logging, metrics, auth, serve(), storage and log connections."""
