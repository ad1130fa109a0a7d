"""NENA-STA-024 subscribe/notify over WebSocket: a CAD subscribes to incidents and is
notified with EIDOs (`routes`, and the exchange).

A feature: it may import the infrastructure, `models` and other features' operations
(`eido`), never their routes."""
