"""Local Peppol network for development and tests: a test SML (DNS) and a test SMP (HTTP) on loopback."""
