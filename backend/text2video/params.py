"""A request parameter's declaration (:class:`Param`): type, default, bounds, allowed values, help text.

Declared once in :mod:`text2video.request` (the parameters every model family shares) and in each family's
declaration (:mod:`text2video.families`: its own parameters, and the shared ones narrowed to what its model can do).
Pure data: the coercion and validation that read it live in :mod:`text2video.request`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .settings import Settings

Dynamic = Callable[[Settings], Any]


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "string" | "integer" | "number" | "boolean" | "array"
    description: str
    default: Any | Dynamic = None  # None = absent (the engine decides, e.g. a random seed)
    minimum: float | Dynamic | None = None
    maximum: float | Dynamic | None = None
    multiple_of: int | None = None
    enum: tuple[str, ...] | Dynamic | None = None
    max_length: int | Dynamic | None = None
    required: bool = False
    format: str | None = None  # "uri"
    example: Any = None
    aliases: tuple[str, ...] = ()  # older names accepted by POST /generate (the first prototype's form)
    legacy_values: Mapping[str, str] | None = None  # older values accepted by POST /generate (lang 0/1)
    flag: str = ""  # CLI flag; "" = --name-with-dashes (a boolean flag switches away from the default)
    above_max: str = ""  # code of the hint when a value is over the maximum (replaces "Pick a value ...")
    items: Mapping[str, Any] | None = None  # "array": the JSON schema of one item
    max_items: int | None = None
    metavar: str = ""  # CLI metavar ("" = NAME in capitals, or the allowed values)
    cli_help: str = ""  # the CLI's own help where the description speaks of HTTP ("" = the description)
    # values that are more than a scalar: raw form/JSON/CLI value -> the stored value, or InvalidInput naming the field
    parse: Callable[[Any], Any] | None = None
    # a step-distillation LoRA the job uses may set it when the request does not (its family's lora_defaults)
    set_by_lora: bool = False

    def resolve(self, attr: str, settings: Settings) -> Any:
        value = getattr(self, attr)
        return value(settings) if callable(value) else value

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


__all__ = ["Param", "Dynamic"]
