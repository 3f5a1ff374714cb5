"""pushsvc: location-targeted disaster and area notifications by Web Push."""

__version__ = "0.1.0"
