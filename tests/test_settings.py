"""Every setting is documented in .env.example, and settings come from the environment and .env."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from newsdesk.index.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_every_setting():
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_env_example.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    text = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"NEWSDESK_{name.upper()}=" in text
    assert "DISCORD_TOKEN=\n" in text  # present, empty: no secret in the repo


def test_settings_read_dotenv_and_environment(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("NEWSDESK_CORPUS=/srv/news\nNEWSDESK_TOP_K=7\n")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.corpus == Path("/srv/news") and s.top_k == 7
    monkeypatch.setenv("NEWSDESK_TOP_K", "3")
    assert Settings().top_k == 3
