"""An in-process spatial index answering point → municipality, one point or a million at a time.

Coordinates are projected to a local metric plane (longitude scaled by cos(latitude)) so that the
coastal tolerance is in metres; over one prefecture the scale error is well under 1%.

A grid over the prefecture is classified once: cells wholly inside one municipality answer directly,
cells farther than the tolerance from every boundary answer "outside", and only the thin band of cells
along boundaries and coasts falls through to exact prepared-geometry tests. That is what makes the
vectorised path fast; the single-point path uses the same code, so both always agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

EARTH_M_PER_DEG = 111_195.0  # mean metres per degree of latitude (R = 6371 km)

INSIDE = 1
COASTAL = 2
OUTSIDE_CELL = -1
MIXED_CELL = -2


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    prefecture: str
    district: str | None


@dataclass(frozen=True)
class Located:
    place: Place
    match: str  # "inside" | "coastal"
    distance_m: float  # 0 inside; distance to the boundary when coastal


Coord = TypeVar("Coord", float, NDArray[np.float64])


class LocalProjection:
    """Equidistant-ish projection around the prefecture: x = Δlon·cos(lat)·M, y = Δlat·M (metres)."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0 = lon0
        self.lat0 = lat0

    def xy(self, lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
        """Arrays or single floats alike (one point at a time is the sign-up path)."""
        x = (lon - self.lon0) * np.cos(np.radians(lat)) * EARTH_M_PER_DEG
        y = (lat - self.lat0) * EARTH_M_PER_DEG
        return x, y

    def geometry(self, geom: BaseGeometry) -> BaseGeometry:
        def _tx(coords: NDArray[np.float64]) -> NDArray[np.float64]:
            x, y = self.xy(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geom, _tx)


class MunicipalityIndex:
    def __init__(
        self,
        places: Sequence[Place],
        geoms: Sequence[BaseGeometry],
        *,
        tolerance_m: float = 2000.0,
        cell_m: float = 500.0,
    ) -> None:
        if not places:
            raise ValueError("no municipalities to index")
        self.places = list(places)
        self.tolerance_m = float(tolerance_m)
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
        self.projection = LocalProjection((minx + maxx) / 2, (miny + maxy) / 2)
        self.geoms = np.asarray([self.projection.geometry(g) for g in geoms], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = STRtree(self.geoms)
        self.bounds = shapely.bounds(self.geoms)  # (n, 4) projected
        self._build_grid(cell_m)

    # -- grid -----------------------------------------------------------------------------------
    def _build_grid(self, cell_m: float) -> None:
        pad = self.tolerance_m + cell_m
        minx, miny = self.bounds[:, 0].min() - pad, self.bounds[:, 1].min() - pad
        maxx, maxy = self.bounds[:, 2].max() + pad, self.bounds[:, 3].max() + pad
        self.cell = cell_m
        self.origin = (minx, miny)
        self.nx = math.ceil((maxx - minx) / cell_m)
        self.ny = math.ceil((maxy - miny) / cell_m)
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny), indexing="xy")
        x0 = minx + ix.ravel() * cell_m
        y0 = miny + iy.ravel() * cell_m
        boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
        state = np.full(boxes.shape[0], OUTSIDE_CELL, dtype=np.int32)
        near_box, _ = self.tree.query(boxes, predicate="dwithin", distance=self.tolerance_m)
        state[np.unique(near_box)] = MIXED_CELL
        in_box, in_geom = self.tree.query(boxes, predicate="within")
        state[in_box] = in_geom.astype(np.int32)
        self.grid = state.reshape(self.ny, self.nx)

    # -- queries --------------------------------------------------------------------------------
    def locate_many(
        self, lat: NDArray[np.float64] | Sequence[float], lon: NDArray[np.float64] | Sequence[float]
    ) -> tuple[NDArray[np.int32], NDArray[np.int8], NDArray[np.float64]]:
        """Vectorised lookup: (index into ``places`` or -1, match 0/INSIDE/COASTAL, distance in metres)."""
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        x, y = self.projection.xy(lon_a, lat_a)
        n = x.shape[0]
        result = np.full(n, -1, dtype=np.int32)
        match = np.zeros(n, dtype=np.int8)
        dist = np.full(n, np.inf)

        gx = np.floor((x - self.origin[0]) / self.cell)
        gy = np.floor((y - self.origin[1]) / self.cell)
        on_grid = (gx >= 0) & (gx < self.nx) & (gy >= 0) & (gy < self.ny) & np.isfinite(gx) & np.isfinite(gy)
        state = np.full(n, OUTSIDE_CELL, dtype=np.int32)
        state[on_grid] = self.grid[gy[on_grid].astype(np.intp), gx[on_grid].astype(np.intp)]

        direct = state >= 0
        result[direct] = state[direct]
        match[direct] = INSIDE
        dist[direct] = 0.0

        todo = np.flatnonzero(state == MIXED_CELL)
        if todo.size:
            tx, ty = x[todo], y[todo]
            found = np.full(todo.size, -1, dtype=np.int32)
            for i, (bx0, by0, bx1, by1) in enumerate(self.bounds):
                cand = np.flatnonzero((found < 0) & (tx >= bx0) & (tx <= bx1) & (ty >= by0) & (ty <= by1))
                if cand.size:
                    hit = shapely.intersects_xy(self.geoms[i], tx[cand], ty[cand])
                    found[cand[hit]] = i
            inside = found >= 0
            result[todo[inside]] = found[inside]
            match[todo[inside]] = INSIDE
            dist[todo[inside]] = 0.0
            rest = np.flatnonzero(~inside)
            if rest.size and self.tolerance_m > 0:
                self._nearest_within(todo[rest], x, y, result, match, dist)
        return result, match, dist

    def _nearest_within(
        self,
        idx: NDArray[np.intp],
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        result: NDArray[np.int32],
        match: NDArray[np.int8],
        dist: NDArray[np.float64],
    ) -> None:
        """Coastal fallback: the nearest municipality within the tolerance, if any.

        Prepared ``dwithin`` rejects most candidates cheaply; exact distances are computed only for
        the hits. (STRtree.query_nearest was ten times slower here, measured in bench/geo_locate.py.)
        """
        tol = self.tolerance_m
        px, py = x[idx], y[idx]
        pts = shapely.points(px, py)
        best = np.full(idx.size, np.inf)
        best_geom = np.full(idx.size, -1, dtype=np.int32)
        for i, (bx0, by0, bx1, by1) in enumerate(self.bounds):
            cand = np.flatnonzero((px >= bx0 - tol) & (px <= bx1 + tol) & (py >= by0 - tol) & (py <= by1 + tol))
            if not cand.size:
                continue
            near = cand[shapely.dwithin(self.geoms[i], pts[cand], tol)]
            if not near.size:
                continue
            d = shapely.distance(self.geoms[i], pts[near])
            better = d < best[near]
            best[near[better]] = d[better]
            best_geom[near[better]] = i
        hit = best_geom >= 0
        result[idx[hit]] = best_geom[hit]
        match[idx[hit]] = COASTAL
        dist[idx[hit]] = best[hit]

    def locate(self, lat: float, lon: float) -> Located | None:
        """One point; None when it is outside the service area (beyond the coastal tolerance)."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        # Most points fall in a cell wholly inside one municipality: answer those in plain Python, as
        # one-element arrays cost more than the lookup (it showed in profiles of the sign-up route).
        x, y = self.projection.xy(lon, lat)
        gx = math.floor((x - self.origin[0]) / self.cell)
        gy = math.floor((y - self.origin[1]) / self.cell)
        state = int(self.grid[gy, gx]) if 0 <= gx < self.nx and 0 <= gy < self.ny else OUTSIDE_CELL
        if state >= 0:
            return Located(self.places[state], "inside", 0.0)
        if state == OUTSIDE_CELL:
            return None
        # A boundary or coast cell: ask the tree, which tests only the municipalities whose boxes hold the
        # point, instead of locate_many's pass over every municipality. Ties go to the lowest index, as there.
        point = shapely.Point(x, y)
        inside = self.tree.query(point, predicate="intersects")
        if inside.size:
            return Located(self.places[int(inside.min())], "inside", 0.0)
        near = np.sort(self.tree.query(point, predicate="dwithin", distance=self.tolerance_m))
        if not near.size:
            return None
        d = shapely.distance(self.geoms[near], point)
        best = int(np.argmin(d))  # the first of equal distances, as in _nearest_within
        return Located(self.places[int(near[best])], "coastal", float(d[best]))

    def by_code(self, code: str) -> Place | None:
        for place in self.places:
            if place.code == code:
                return place
        return None
