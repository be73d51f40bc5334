"""The `alerts` section of the settings (business alerts, docs/alerts.md).

Its own module so config.py stays under the size limit; config.Settings holds it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class AlertSettings(BaseModel):
    """Business alerts: statistical checks on per-minute metrics, optional webhook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="run the checks beside the warehouse writer")
    interval_seconds: float = Field(15.0, gt=0, description="how often the checks run")
    false_alerts_budget: float = Field(
        1.0, gt=0, description="expected false alerts (all rules together) per budget_days"
    )
    budget_days: float = Field(30.0, gt=0, description="the period of false_alerts_budget")
    open_after: int = Field(
        2, ge=1, description="consecutive significant minutes that open an alert"
    )
    resolve_after: int = Field(
        3, ge=1, description="consecutive normal minutes that resolve an open alert"
    )
    trailing_minutes: int = Field(
        10, ge=3, description="clean minutes before the one checked that form its baseline"
    )
    lateness_allowance_seconds: float = Field(
        60.0, ge=0, description="a minute is checked this long after it ends (late events)"
    )
    webhook_url: HttpUrl | None = Field(
        None, description="Alertmanager-compatible receiver; unset = no webhook"
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="timeout of one webhook POST"
    )
    webhook_retries: int = Field(3, ge=0, le=10, description="retries of a failed POST")
