"""Distances for the matching engine: vectorised haversine, computed once per problem.

The engine never calls a geodesic library pair by pair in a loop: it builds a table between the
distinct destinations of a sub-problem (attendees give neighbourhoods, so there are few) with one
numpy call. At city scale haversine differs from the ellipsoidal distance by well under 0.5 %,
far below what the chain model of a trip home can claim anyway.
"""

from __future__ import annotations

import math

import numpy as np

from matching.model import Point

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km; arguments in degrees, broadcast like numpy arrays."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2)
    )
    sin_dlat = np.sin((lat2 - lat1) / 2.0)
    sin_dlon = np.sin((lon2 - lon1) / 2.0)
    a = sin_dlat * sin_dlat + np.cos(lat1) * np.cos(lat2) * sin_dlon * sin_dlon
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_km(a: Point, b: Point) -> float:
    """Distance between two points: the same formula on scalars, cheap for a few points."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    sin_dlat = math.sin((lat2 - lat1) / 2.0)
    sin_dlon = math.sin(math.radians(b.lon - a.lon) / 2.0)
    h = sin_dlat * sin_dlat + math.cos(lat1) * math.cos(lat2) * sin_dlon * sin_dlon
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))


def distance_table(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Symmetric table of distances (km) between all given points, in one vectorised call."""
    return haversine_km(lats[:, None], lons[:, None], lats[None, :], lons[None, :])


def local_xy_km(lats: np.ndarray, lons: np.ndarray, origin: Point) -> np.ndarray:
    """Equirectangular projection around ``origin``: (n, 2) array of east/north km.

    Only used to find nearby groups and to sweep around the venue, never to cost a trip.
    """
    kx = math.cos(math.radians(origin.lat)) * EARTH_RADIUS_KM * math.pi / 180.0
    ky = EARTH_RADIUS_KM * math.pi / 180.0
    x = (np.asarray(lons, dtype=float) - origin.lon) * kx
    y = (np.asarray(lats, dtype=float) - origin.lat) * ky
    return np.column_stack([x, y])
