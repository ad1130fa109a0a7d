"""The `corespond` commands (`commands`, with `audit`, and `serving`'s checks before
`serve` listens; `environment` is what every command starts from), the demo agency
(`demo`) and the terminal console (`terminal_console`): the top, beside `app`.

It may import anything in `service`; only `service.__main__` and the `corespond` script
(through `main`, below) import it."""


def main() -> None:
    """The `corespond` script's entry point: the commands, imported only when it runs.

    A process that `multiprocessing` spawns (the webhook delivery process, the EIDO
    builder) first runs the server's main script again, for its definitions: importing
    the commands there would import most of the service (some seconds of CPU) at the
    server's priority, before the process can put itself behind the server."""
    from service.cli.commands import main as commands

    commands()
