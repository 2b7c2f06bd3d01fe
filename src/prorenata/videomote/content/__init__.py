"""Dexterity content: the student/patient record and the video meeting."""
