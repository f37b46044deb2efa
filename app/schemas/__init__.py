"""Request and response bodies (pydantic v2): the public shapes of the HTTP API."""
