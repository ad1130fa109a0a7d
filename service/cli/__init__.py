"""The `corespond` commands (`commands`, with `audit`, and `serving`'s checks before
`serve` listens; `environment` is what every command starts from), the demo agency
(`demo`) and the terminal console (`terminal_console`): the top, beside `app`.

It may import anything in `service`; only `service.__main__` imports it."""
