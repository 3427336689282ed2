"""Server-rendered pages for people (support staff, members, admins) at ``/web``: a sibling of the JSON API
at the edge. Jinja2 templates with autoescape, opaque server-side sessions, a CSRF token on every form,
no JavaScript build step. ``install_web(app, services)`` mounts the pages on the API application.
"""

from gateway.web.app import install_web

__all__ = ["install_web"]
