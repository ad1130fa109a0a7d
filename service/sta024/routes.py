"""STA-024 route (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["sta-024"])
