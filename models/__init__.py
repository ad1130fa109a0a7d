"""Data: SQLModel tables and the API's pydantic schemas. No behaviour lives here."""
