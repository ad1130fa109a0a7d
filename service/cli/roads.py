"""`corespond roads build`: the embedded road graph from an OpenStreetMap extract, in
the one file that `CORESPOND_ROUTING` then names."""

from pathlib import Path

import click

from service.routing.build import ExtractError, build_graph


@click.group()
def roads() -> None:
    """The embedded road network that ranks responders by road travel time."""


@roads.command("build")
@click.argument("extract", metavar="EXTRACT.osm.pbf", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The graph file to write, exactly this path (CORESPOND_ROUTING takes it).",
)
def roads_build(extract: Path, out: Path) -> None:
    """Build a car routing graph from an OpenStreetMap extract (.osm.pbf or .osm XML):
    drivable roads, one-ways, speeds from maxspeed tags or the road class. A file
    that is missing, empty, not OSM or without drivable roads is refused, and
    nothing is written."""
    if out.resolve() == extract.resolve():
        raise click.ClickException(f"--out {out} is the extract itself; name another file")
    if not out.parent.is_dir():
        raise click.ClickException(f"--out {out}: the folder {out.parent} does not exist")
    try:
        built = build_graph(extract)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None
    size = built.graph.save(out)
    left_out = (
        f"; {built.left_out_nodes:,} road nodes in pieces a car cannot drive through left out"
        if built.left_out_nodes
        else ""
    )
    click.echo(
        f"wrote {out}: {size / 1e6:,.1f} MB, {built.graph.node_count:,} nodes, "
        f"{built.graph.edge_count:,} edges, built in {built.seconds:.1f} s{left_out}"
    )
