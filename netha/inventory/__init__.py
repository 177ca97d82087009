"""Inventory: the YAML file that names devices, redundancy groups and controller settings."""

from .loader import load_inventory
from .model import Credential, Device, Group, Inventory, Member, ResolvedPolicy, SecretRef, SnmpProfile, Track

__all__ = [
    "Credential", "Device", "Group", "Inventory", "Member", "ResolvedPolicy", "SecretRef",
    "SnmpProfile", "Track", "load_inventory",
]
