"""Serve the dashboard: bundled pages, scripts and styles, no CDN."""
