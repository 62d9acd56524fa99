"""Swagger UI served with its own assets (issue 19): every script, stylesheet and icon the page
names is answered by the app itself, none is on another host, so the page works offline."""

from __future__ import annotations

import re
from pathlib import Path

from services.api import docs_assets


def test_swagger_ui_names_only_assets_the_app_serves(client):
    for path in ("/schema", "/schema/swagger"):
        r = client.get(path)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"], path
        urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", r.text)
        assert urls, r.text
        for url in urls:
            assert url.startswith("/schema/assets/"), f"{path} loads {url} from elsewhere"
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
        assert "SwaggerUIBundle(" in r.text
    bundle = client.get("/schema/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert client.get("/schema/openapi.json").status_code == 200
    # The assets are not operations of the API.
    assert not any("/assets" in p for p in client.get("/schema/openapi.json").json()["paths"])


def test_the_vendored_files_record_their_version_and_license():
    folder = Path(docs_assets.ASSETS)
    note = (folder / "VENDORED.md").read_text()
    assert f"swagger-ui-dist` {docs_assets.SWAGGER_UI_VERSION}" in note and "Apache-2.0" in note
    assert "Apache License" in (folder / "LICENSE").read_text()
