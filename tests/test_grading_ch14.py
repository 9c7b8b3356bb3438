"""Exercise 14 (learning-rate-free methods): the references pass, each named mistake gets its diagnosis.

REFERENCES_14, WRONG_14 and ENDLESS_14 also feed tests/test_grading.py's checks over every task."""

REFERENCES_14 = {}
WRONG_14 = {}
ENDLESS_14 = []
