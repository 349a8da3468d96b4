"""Capacity planning of the cloud center: phase 1 runs out when, phase 2 needs what."""
