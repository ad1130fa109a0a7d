"""The `corespond` commands (`commands`), the demo agency (`demo`) and the terminal
console (`terminal_console`): the top, beside `app`.

It may import anything in `service`; only `service.__main__` imports it."""
