"""Storage: the gradebook (SQLite, every grading and the tutors' manual scores) and OUT's folder layout."""
