"""The area map an admin uploads for the dealer map. China's map data is regulated (a published map
needs an approval number, 审图号): the platform ships no map; the company uploads an approved one as a
GeoJSON FeatureCollection of polygons, each feature named (`properties.name`) as an area. It is
checked, reduced to what is drawn (the name, an optional label point `cp`, the geometry) and kept
under the data directory with a note of who uploaded it, when, and its approval number."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from numbers import Real
from pathlib import Path

from dealerflow.core.errors import Invalid, TooLarge

MAX_BYTES = 8 * 1024 * 1024
MAX_FEATURES = 2000
MAX_NAME = 100
GEOMETRIES = ("Polygon", "MultiPolygon")


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "maps"


def map_path(data_dir: Path) -> Path:
    return folder(data_dir) / "areas.geojson"


def _meta_path(data_dir: Path) -> Path:
    return folder(data_dir) / "areas.json"


def _position(p) -> bool:
    return isinstance(p, list) and 2 <= len(p) <= 3 and all(
        isinstance(x, Real) and not isinstance(x, bool) for x in p)


def _polygon(rings) -> bool:
    return isinstance(rings, list) and len(rings) > 0 and all(
        isinstance(ring, list) and len(ring) >= 4 and all(_position(p) for p in ring) for ring in rings)


def parse(raw: bytes) -> dict:
    """The map in `raw`, reduced to what is drawn; an Invalid (field `file`) saying what is wrong."""
    if len(raw) > MAX_BYTES:
        raise TooLarge(f"the map is larger than {MAX_BYTES // (1024 * 1024)} MB: simplify it", field="file")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise Invalid("the file is not JSON (UTF-8): upload a GeoJSON FeatureCollection", field="file") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise Invalid("the file is not a GeoJSON FeatureCollection", field="file")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise Invalid("the FeatureCollection has no features", field="file")
    if len(features) > MAX_FEATURES:
        raise Invalid(f"the map has {len(features)} features: at most {MAX_FEATURES}", field="file")
    kept = []
    for n, f in enumerate(features):
        where = f"feature {n + 1}"
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise Invalid(f"{where} is not a GeoJSON Feature", field="file")
        props = f.get("properties") if isinstance(f.get("properties"), dict) else {}
        name = props.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise Invalid(f"{where} has no name (properties.name, at most {MAX_NAME} characters)", field="file")
        geometry = f.get("geometry")
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if kind not in GEOMETRIES:
            raise Invalid(f"{where} ({name}) is not a Polygon or MultiPolygon", field="file")
        coordinates = geometry.get("coordinates")
        ok = _polygon(coordinates) if kind == "Polygon" else (
            isinstance(coordinates, list) and len(coordinates) > 0 and all(_polygon(p) for p in coordinates))
        if not ok:
            raise Invalid(f"{where} ({name}): its coordinates are not plain numbers in GeoJSON rings "
                          "(an encoded map: export it as plain GeoJSON)", field="file")
        properties = {"name": name.strip()}
        if _position(props.get("cp")):
            properties["cp"] = props["cp"][:2]
        kept.append({"type": "Feature", "properties": properties,
                     "geometry": {"type": kind, "coordinates": coordinates}})
    return {"type": "FeatureCollection", "features": kept}


def _write(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".part")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def store(data_dir: Path, raw: bytes, *, approval: str, actor: str, now: datetime | None = None) -> dict:
    """Check and keep the map (replacing the last one); returns its note."""
    collection = parse(raw)
    approval = (approval or "").strip()
    if len(approval) > 64 or any(ord(c) < 32 for c in approval):
        raise Invalid("the approval number is at most 64 characters on one line", field="approval")
    names = sorted({f["properties"]["name"] for f in collection["features"]})
    meta = {"approval": approval, "uploaded_by": actor,
            "uploaded_at": (now or datetime.now(timezone.utc)).isoformat(),
            "features": len(collection["features"]), "names": names}
    folder(data_dir).mkdir(parents=True, exist_ok=True)
    _write(map_path(data_dir), json.dumps(collection, ensure_ascii=False, separators=(",", ":")))
    _write(_meta_path(data_dir), json.dumps(meta, ensure_ascii=False))
    return meta


def current(data_dir: Path) -> dict | None:
    """The note of the map kept, or None when no admin has uploaded one."""
    try:
        meta = json.loads(_meta_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if map_path(data_dir).is_file() else None
