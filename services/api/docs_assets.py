"""The API's documentation pages, served with their assets by the app itself: Swagger UI works
without the internet (no CDN). The files are `swagger-ui-dist`, vendored under
services/api/static/swagger-ui/ (VENDORED.md: version, license, how to upgrade)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router

SWAGGER_UI_VERSION = "5.35.0"
ASSETS = Path(__file__).parent / "static" / "swagger-ui"
# Under the OpenAPI path (`/schema`), beside the documents.
PREFIX = "/schema/assets"


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at `/schema` and `/schema/swagger` from local assets; the document as JSON
    (`/schema/openapi.json`) and YAML."""
    return [
        SwaggerRenderPlugin(
            version=SWAGGER_UI_VERSION,
            js_url=f"{PREFIX}/swagger-ui-bundle.js",
            css_url=f"{PREFIX}/swagger-ui.css",
            standalone_preset_js_url=f"{PREFIX}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{PREFIX}/favicon-32x32.png'>",
            path=["/", "/swagger"],
        ),
        JsonRenderPlugin(),
        YamlRenderPlugin(),
    ]


def assets_router() -> Any:
    """GET /schema/assets/<file>: the vendored files, cacheable for a day, out of the schema."""
    return create_static_files_router(
        path=PREFIX,
        directories=[ASSETS],
        include_in_schema=False,
        cache_control=None,
        name="docs-assets",
    )
