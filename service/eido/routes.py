"""EIDO routes (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["eido"])
