"""cloudctl — operations toolkit of a municipal e-government cloud center."""

__version__ = "0.1.0"
