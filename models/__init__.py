"""Domain dataclasses and enums shared by every package (standard library only)."""
