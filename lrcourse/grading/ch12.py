"""Checks for chapter 12 (the tasks are added with the chapter's exercise)."""
