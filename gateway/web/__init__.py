"""Server-rendered pages for people (support staff, members, admins) at ``/web``: a sibling of the JSON API
at the edge. Jinja2 templates with autoescape, opaque server-side sessions, a CSRF token on every form,
no JavaScript build step. ``install_web(app, services)`` mounts the pages on the API application.
"""

from gateway.web.app import answers_pages, install_web, refused_target_page

__all__ = ["answers_pages", "install_web", "refused_target_page"]
