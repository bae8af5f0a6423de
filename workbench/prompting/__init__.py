"""Prompting: versioned templates (YAML + sandboxed Jinja2), the guarded generation path, and the playground.

::

    from workbench.prompting import Playground, get_template, list_templates

    get_template("summarise@2").render({"text": report}).messages
    Playground(template="classify-ticket", variables={"ticket": text}).run().text
"""

from __future__ import annotations

from workbench.prompting.playground import Comparison, Playground, Variant, get_backend
from workbench.prompting.runner import (
    GenerationResult,
    build_params,
    default_guard,
    guarded_generate,
    price_of,
)
from workbench.prompting.template_library import (
    BUILTIN_DIR,
    TemplateLibrary,
    get_template,
    library,
    list_templates,
    parse_ref,
    render,
    template_dirs,
)
from workbench.prompting.templates import (
    FewShotExample,
    PromptTemplate,
    RecommendedParameters,
    RenderedPrompt,
    load_template,
)
from workbench.prompting.variables import TemplateVariable

__all__ = [
    "BUILTIN_DIR",
    "Comparison",
    "FewShotExample",
    "GenerationResult",
    "Playground",
    "PromptTemplate",
    "RecommendedParameters",
    "RenderedPrompt",
    "TemplateLibrary",
    "TemplateVariable",
    "Variant",
    "build_params",
    "default_guard",
    "get_backend",
    "get_template",
    "guarded_generate",
    "library",
    "list_templates",
    "load_template",
    "parse_ref",
    "price_of",
    "render",
    "template_dirs",
]
