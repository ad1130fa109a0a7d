"""The consoles: the `/v1/ws` socket (`socket`), and the web console's page and files
(`routes`, `web/`, with third-party browser files in `web/vendor/`).

A feature: it may import the infrastructure, `models` and other features' operations
(`assignments`), never their routes."""
