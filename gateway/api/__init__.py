"""FastAPI edge: the application factory, routes, auth and problem+json errors."""
