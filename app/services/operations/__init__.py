"""Operations: readiness and secret rotation."""
