"""The web dashboard: server-rendered pages for compliance officers and operators."""
