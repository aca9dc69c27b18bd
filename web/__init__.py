"""The HTTP face of a node: routes, content negotiation, templates, static files."""
