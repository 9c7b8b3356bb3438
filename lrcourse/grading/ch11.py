"""Checks for chapter 11 (the tasks are added with the chapter's exercise)."""
