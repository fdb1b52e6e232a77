"""Reports as data: quality per system, transfers per destination and category, and the
records of processing (GDPR Art. 30). Counts and names, never values."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query

from hub.api.deps import HubDep, Instant, aware
from hub.api.openapi import AUTHENTICATED
from hub.api.security import ReportsReader
from hub.api.services import transfers
from hub.audit.reports import records_of_processing
from hub.quality.report import quality
from hub.records import jsonable

router = APIRouter(prefix="/api/v1/reports", tags=["reports"],
                   responses=AUTHENTICATED)
When = Annotated[Instant | None, Query()]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # NaN (pandas' missing) is not JSON: None instead.
    return [jsonable({k: (None if isinstance(v, float) and pd.isna(v) else v)
                      for k, v in row.items()}) for row in frame.to_dict("records")]


@router.get("/quality", summary="Completeness, invalid values and conflicts per system")
def quality_report(hub: HubDep, caller: ReportsReader,
                   system: Annotated[str | None, Query(max_length=100)] = None
                   ) -> dict[str, Any]:
    return jsonable(quality(hub, system), sort=False)


@router.get("/transfers", summary="Field values sent and received, by system and category")
def transfer_report(hub: HubDep, caller: ReportsReader, since: When = None,
                    until: When = None) -> list[dict[str, Any]]:
    return _records(transfers(hub, aware(since), aware(until)))


@router.get("/processing", summary="Records of processing activities (GDPR Art. 30)")
def processing(hub: HubDep, caller: ReportsReader) -> list[dict[str, Any]]:
    return _records(records_of_processing(hub.engine, hub.deployment))
