"""Operations: readiness, secret rotation, jobs, and the reference catalogues and demo seed."""
