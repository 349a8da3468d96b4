"""Thin command-line layer: parse, call one domain function, render."""
