"""CAP 1.2's namespace and the maps between our words and CAP's, both directions in one place.

Writer and readers must agree, so a language or category added here is both published and understood.
"""

from __future__ import annotations

NS = "urn:oasis:names:tc:emergency:cap:1.2"
Q = f"{{{NS}}}"  # ElementTree's prefix for a tag in the CAP namespace
GEOCODE_NAME = "JIS X 0402"

# Out: our word → CAP's.
CATEGORY = {
    "river": "Met",
    "weather": "Met",
    "landslide": "Geo",
    "quake_tsunami": "Geo",
    "evacuation": "Safety",
    "area_info": "Other",
}
SEVERITY = {"emergency": "Extreme", "warning": "Severe", "advisory": "Moderate", "info": "Minor"}
URGENCY = {"emergency": "Immediate", "warning": "Expected", "advisory": "Future", "info": "Unknown"}
LANGUAGE = {
    "ja": "ja-JP",
    "en": "en-US",
    "zh-Hans": "zh-CN",
    "zh-Hant": "zh-TW",
    "ko": "ko-KR",
    "vi": "vi-VN",
    "tl": "tl-PH",
    "ne": "ne-NP",
    "id": "id-ID",
    "pt": "pt-BR",
}

# In: CAP's word → ours. Severity and language are the inverse of the maps above (plus what only others send);
# CAP has more categories than we do, so several fold into one.
SEVERITY_IN = {**{cap: ours for ours, cap in SEVERITY.items()}, "Unknown": "info"}
CATEGORY_IN = {
    "Geo": "quake_tsunami",
    "Met": "weather",
    "Safety": "evacuation",
    "Security": "evacuation",
    "Rescue": "evacuation",
    "Fire": "evacuation",
    "Health": "area_info",
    "Env": "area_info",
    "Transport": "area_info",
    "Infra": "area_info",
    "CBRNE": "evacuation",
    "Other": "area_info",
}
# Lower-cased language tag → ours: our own codes, the tags we write ("zh-tw") and bare Chinese.
LANG_IN = {
    **{ours.lower(): ours for ours in LANGUAGE},
    **{cap.lower(): ours for ours, cap in LANGUAGE.items()},
    "zh": "zh-Hans",
}
