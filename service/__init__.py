"""The world around the decisions: HTTP, WebSockets, database, event bus and CLI."""
