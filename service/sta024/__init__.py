"""NENA-STA-024 subscribe/notify over WebSocket: a CAD subscribes to incidents and is
notified with EIDOs (docs/sta-024.md). `routes` admits the socket, `exchange` reads and
answers its messages, `subscriber` is the socket (to the hub, a console), `requests` and
`terms` start subscriptions, `subscription` notifies, `feed` reads an agency's log once
for all its subscriptions, `shelf` builds starting EIDOs once, `operations` reads.

A feature: it may import the infrastructure, `models` and other features' operations
(`eido`), never their routes."""
