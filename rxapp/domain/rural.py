"""Which incident locations count as rural, for the emergency target (15 minutes urban, 20 rural).

A force lists its rural areas as British National Grid boxes in `RURAL_AREAS` (JSON:
`[[min_easting, min_northing, max_easting, max_northing], ...]`). With none listed, every location is urban,
which holds a force to the stricter target.
"""
from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class RuralAreas:
    boxes: tuple[tuple[float, float, float, float], ...] = ()

    @classmethod
    def from_json(cls, raw: str | None) -> "RuralAreas":
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"RURAL_AREAS is not valid JSON: {exc.msg}") from None
        if not isinstance(data, list):
            raise ValueError("RURAL_AREAS must be a list of [min_easting, min_northing, max_easting, max_northing]")
        boxes = []
        for box in data:
            if (not isinstance(box, list) or len(box) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
                raise ValueError("each RURAL_AREAS entry must be four numbers")
            if box[0] >= box[2] or box[1] >= box[3]:
                raise ValueError("each RURAL_AREAS box must have min below max")
            boxes.append(tuple(float(v) for v in box))
        return cls(tuple(boxes))

    def is_rural(self, easting: float, northing: float) -> bool:
        return any(b[0] <= easting <= b[2] and b[1] <= northing <= b[3] for b in self.boxes)
