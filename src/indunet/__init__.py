"""indunet: an open-source industrial internet stack."""

__version__ = "0.1.0"
