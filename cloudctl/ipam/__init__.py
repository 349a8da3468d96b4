"""The address plan: zones, VRFs, prefixes; validation, allocation, import/export."""
