from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class LocateOut(BaseModel):
    code: str = Field(examples=["39201"])
    name: str = Field(examples=["高知市"])
    prefecture: str = Field(examples=["高知県"])
    district: str | None = Field(examples=[None])
    match: Literal["inside", "coastal"] = Field(
        description="'coastal': outside the simplified outline but within the coastal tolerance"
    )
    distance_m: float = Field(description="0 when inside; metres to the municipality when coastal")


class MunicipalityFeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    attribution: str
    features: list[dict[str, Any]]
