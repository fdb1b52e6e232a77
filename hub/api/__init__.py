"""The hub's REST API (FastAPI). Every response with personal data passes the privacy gate."""
