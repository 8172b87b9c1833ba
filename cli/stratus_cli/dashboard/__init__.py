"""The dashboard: Horizon's job for Stratus, served by `stratus api` under /dashboard. Its pages are rendered
on the server (Jinja2) from what the Nova-compatible API answers: every page calls the API's own routes in
process (client.py) with the session's token, so the dashboard applies exactly the API's schema, policy and
quota rules and sees exactly what the API would show that user (docs/dashboard.md)."""
