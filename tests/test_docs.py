"""An operator configures pushsvc from the README: every setting must be documented there."""

from pathlib import Path

from pushsvc.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [f"PUSHSVC_{name.upper()}" for name in Settings.model_fields if f"`PUSHSVC_{name.upper()}`" not in README]
    assert not missing, f"undocumented settings: {missing}"
