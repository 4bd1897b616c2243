"""Running a class: the roster, ``labkit check``, the class rehearsal and the student edition."""
