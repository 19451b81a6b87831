"""Coordinates and distances for the arrival estimate.

STORM gives incident locations in British National Grid metres (EPSG:27700); vehicles report WGS84
latitude and longitude from their AVL. `bng_to_wgs84` brings an incident onto the vehicles' datum once,
when it is opened or moved, and `distance_m` is the straight-line distance the ETA model starts from.

Accuracy of `bng_to_wgs84`:
- With the OSTN15 grid (`uk_os_OSTN15_NTv2_OSGBtoETRS.tif`) present in PROJ's data directory, PROJ uses
  it and the result is within about 0.1 m of Ordnance Survey's definitive transformation.
- Without it (the default install: pyproj's wheel ships no grids) PROJ falls back to the best available
  Helmert transformation ("OSGB36 to WGS 84 (6)", EPSG:1314), stated accuracy 2 m, in practice up to
  about 5 m across Great Britain. That is ample: an arrival window is minutes wide, and a police car
  covers 5 m in a fraction of a second.
- We never let PROJ download a grid (network access stays off): a production server must not make
  surprise calls to cdn.proj.org, and behaviour must not depend on whether it could. To use OSTN15,
  install the grid file into PROJ's data directory (or `PROJ_DATA`) at build time.

`distance_m` uses geopy's great-circle (spherical) distance, not the ellipsoidal geodesic. Measured here
(pyproj 3.7, geopy 2.5, one core): great_circle about 175,000 calls/s, geodesic about 11,000 calls/s.
For the distances involved (under 50 km) the spherical error is at most about 0.5 %, an order of
magnitude smaller than the road-circuity guess (x1.25 to x1.35) it is multiplied by, while geodesic
alone would eat a tenth of a core at the 1,000 position events/s the feed must sustain.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

import pyproj.datadir
from geopy.distance import great_circle
from pyproj import Transformer
from pyproj.transformer import TransformerGroup

log = logging.getLogger(__name__)

LatLon = tuple[float, float]


_GRID_PARAM = re.compile(r"\b(?:grids|file)=@?([^\s,]+)")


def _grid_is_local(name: str) -> bool:
    """True when a PROJ grid file is on disk, so using it cannot trigger a download."""
    if os.path.isabs(name):
        return os.path.exists(name)
    dirs = [d for d in os.environ.get("PROJ_DATA", "").split(os.pathsep) if d]
    dirs += [d for d in pyproj.datadir.get_data_dir().split(os.pathsep) if d]
    dirs.append(pyproj.datadir.get_user_data_dir())
    return any(os.path.exists(os.path.join(d, name)) for d in dirs)


@dataclass(frozen=True)
class _Choice:
    transformer: Transformer
    description: str
    accuracy_m: float


@lru_cache(maxsize=1)
def _bng_choice() -> _Choice:
    """The most accurate EPSG:27700 -> EPSG:4326 transformation usable offline, chosen and built once.

    `TransformerGroup` lists candidate operations best first; we take the first one whose grids (if any)
    are files on disk. Even if a deployer has switched PROJ's network access on, a grid that is not
    already installed is skipped rather than fetched. The ballpark operation (which ignores the datum
    shift, about 100 m wrong) is excluded outright. The chosen pipeline is rebuilt with
    `Transformer.from_pipeline` because the group's own transformers are not thread-safe, and the
    service may call us from worker threads.
    """
    with warnings.catch_warnings():
        # pyproj warns that the best (grid) transformation is missing: expected, and documented above.
        warnings.simplefilter("ignore", UserWarning)
        group = TransformerGroup("EPSG:27700", "EPSG:4326", always_xy=True, allow_ballpark=False)
    for candidate in group.transformers:
        grids = _GRID_PARAM.findall(candidate.definition)
        if all(_grid_is_local(g) for g in grids):
            choice = _Choice(Transformer.from_pipeline(candidate.definition), candidate.description,
                             candidate.accuracy)
            log.info("BNG to WGS84 via %s (stated accuracy %s m)", choice.description, choice.accuracy_m)
            return choice
    raise RuntimeError("no British National Grid to WGS84 transformation is available offline in PROJ")


def bng_transform_description() -> str:
    """Which transformation is in use and its stated accuracy, for diagnostics."""
    choice = _bng_choice()
    return f"{choice.description} (stated accuracy {choice.accuracy_m} m)"


def bng_to_wgs84(easting: float, northing: float) -> LatLon:
    """British National Grid easting/northing (metres) to WGS84 (latitude, longitude) in degrees."""
    lon, lat = _bng_choice().transformer.transform(float(easting), float(northing), errcheck=True)
    return lat, lon


def distance_m(a: LatLon, b: LatLon) -> float:
    """Straight-line distance in metres between two (latitude, longitude) points (see module notes)."""
    return great_circle(a, b).meters
