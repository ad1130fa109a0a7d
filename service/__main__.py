"""`python -m service …` is `corespond …`, with the code found from where it runs (the
benchmarks start servers this way, so a checkout of another commit runs its own)."""

from service.cli.commands import main

main(prog_name="corespond")
