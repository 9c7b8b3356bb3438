"""Checks for chapter 10 (the tasks are added with the chapter's exercise)."""
