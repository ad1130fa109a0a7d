"""The baseline: a bare FastAPI app with one validated POST, the same body as a call.

Served by uvicorn with the same options as `corespond serve`, it shows what the
machine, the client and the framework cost before CoRespond does anything.
"""

import uuid
from typing import Any

from fastapi import FastAPI

from models.call import CallCreate

app = FastAPI()


@app.post("/v1/calls", status_code=201)
async def create_call(body: CallCreate) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), **body.model_dump(mode="json")}
