"""The one base class of every config model: unknown keys are errors, objects are immutable."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A config section: `extra="forbid"` turns typos into errors; `frozen` makes reloads build new objects."""

    model_config = ConfigDict(extra="forbid", frozen=True)
