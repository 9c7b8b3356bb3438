"""Checks for chapter 13: tuning and the claims, tested."""
