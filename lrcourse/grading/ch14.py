"""Checks for chapter 14: learning-rate-free methods."""
