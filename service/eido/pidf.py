"""PIDF-LO (RFC 4119, 5491, 5139): where an EIDO's location is, as XML.

What comes in is XML from outside, parsed with `defusedxml` (no entities, no DTDs, no
external references). A location's coordinates are its point, or the centre of its
circle, ellipse, arc band, sphere or ellipsoid, or the centroid of its polygon or prism
(RFC 5491's shapes); a civic address is read too, for the answer that names it when
there are no coordinates, and as the call's address when there are.
"""

import xml.etree.ElementTree as ET  # for its types: parsing is defusedxml's
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from defusedxml import ElementTree as SafeET
from shapely.geometry import Polygon

PIDF = "urn:ietf:params:xml:ns:pidf"
GEOPRIV = "urn:ietf:params:xml:ns:pidf:geopriv10"
DATA_MODEL = "urn:ietf:params:xml:ns:pidf:data-model"
CIVIC = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
GML = "http://www.opengis.net/gml"
SHAPES = "http://www.opengis.net/pidflo/1.0"
WGS84_2D = "urn:ogc:def:crs:EPSG::4326"

# RFC 5139's civic address elements, in the order an address is said.
_STREET = ("HNO", "HNS", "PRD", "RD", "STS", "POD", "LOC", "UNIT", "FLR")
_PLACE = ("A6", "A3", "A1", "PC", "country")
_CENTRED = ("Circle", "Ellipse", "ArcBand", "Sphere", "Ellipsoid")


class PidfError(ValueError):
    """The PIDF-LO cannot be read (not XML, or a shape without numbers)."""


@dataclass(frozen=True, slots=True)
class PidfLocation:
    """What a PIDF-LO said: coordinates if it had a shape, an address if it had one."""

    lat: float | None
    lon: float | None
    shape: str | None  # `Point`, `Circle`, `Polygon`, …
    address: str | None


def read_pidf(document: str) -> PidfLocation:
    """The first geodetic shape and the first civic address in `document`."""
    try:
        root = SafeET.fromstring(document.strip().encode())
    except Exception as exc:  # defusedxml's refusals and expat's syntax errors alike
        raise PidfError(f"not a readable PIDF-LO: {exc}") from None
    lat, lon, shape = _coordinates(root)
    return PidfLocation(lat=lat, lon=lon, shape=shape, address=_civic_address(root))


def _coordinates(root: ET.Element) -> tuple[float | None, float | None, str | None]:
    for element in root.iter():
        namespace, _, name = element.tag.rpartition("}")
        if name == "Point" and namespace.endswith(GML):
            lat, lon = _pos(element)
            return lat, lon, name
        if name in _CENTRED:
            lat, lon = _pos(element)
            return lat, lon, name
        if name in ("Polygon", "Prism"):
            lat, lon = _centroid(element)
            return lat, lon, name
    return None, None, None


def _pos(shape: ET.Element) -> tuple[float, float]:
    found = shape.find(f".//{{{GML}}}pos")
    if found is None or not found.text:
        raise PidfError(f"a {_local(shape.tag)} with no gml:pos")
    numbers = _numbers(found.text, shape)
    if len(numbers) < 2:
        raise PidfError(f"a {_local(shape.tag)} whose gml:pos has no latitude and longitude")
    return _checked(numbers[0], numbers[1], shape)


def _centroid(shape: ET.Element) -> tuple[float, float]:
    """The polygon's centroid (planar in degrees: a call's polygon is small)."""
    listed = shape.find(f".//{{{GML}}}posList")
    if listed is not None and listed.text:
        numbers = _numbers(listed.text, shape)
        dimension = 3 if (listed.get("srsDimension") or shape.get("srsDimension")) == "3" else 2
        points = [tuple(numbers[i : i + 2]) for i in range(0, len(numbers), dimension)]
    else:
        points = [tuple(_numbers(pos.text or "", shape)[:2]) for pos in shape.iter(f"{{{GML}}}pos")]
    points = [p for p in points if len(p) == 2]
    if len(points) < 3:
        raise PidfError(f"a {_local(shape.tag)} with fewer than three corners")
    ring = Polygon([(lon, lat) for lat, lon in points])
    if ring.area == 0:
        raise PidfError(f"a {_local(shape.tag)} with no area")
    centre = ring.centroid
    return _checked(float(centre.y), float(centre.x), shape)


def _numbers(text: str, shape: ET.Element) -> list[float]:
    try:
        return [float(part) for part in text.split()]
    except ValueError:
        raise PidfError(f"a {_local(shape.tag)} with coordinates that are not numbers") from None


def _checked(lat: float, lon: float, shape: ET.Element) -> tuple[float, float]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PidfError(
            f"a {_local(shape.tag)} at {lat} {lon}: latitude then longitude, in degrees "
            f"({WGS84_2D})"
        )
    return lat, lon


def _civic_address(root: ET.Element) -> str | None:
    civic = next(root.iter(f"{{{CIVIC}}}civicAddress"), None)
    if civic is None:
        return None
    parts = {_local(child.tag): (child.text or "").strip() for child in civic}
    street = " ".join(parts[name] for name in _STREET if parts.get(name))
    said = ", ".join(p for p in (street, *(parts.get(name) for name in _PLACE)) if p)
    return said or None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def point_pidf(*, lat: float, lon: float, entity: str, device: str) -> str:
    """A PIDF-LO with one point (what CoRespond knows of a call's place)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<presence xmlns="{PIDF}" xmlns:gp="{GEOPRIV}" xmlns:dm="{DATA_MODEL}" '
        f'xmlns:gml="{GML}" entity={quoteattr(entity)}>'
        f"<dm:device id={quoteattr(device)}><gp:geopriv><gp:location-info>"
        f'<gml:Point srsName="{WGS84_2D}"><gml:pos>{lat:.7f} {lon:.7f}</gml:pos></gml:Point>'
        "</gp:location-info><gp:usage-rules/></gp:geopriv></dm:device></presence>"
    )
