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


def test_faiss_gpu_setting_from_dotenv_reaches_the_vector_index(tmp_path, monkeypatch, fake_embedder):
    """NEWSDESK_FAISS_GPU in .env decides whether the engine moves its vector index to the GPU (it once read
    os.environ only, so .env did nothing). This machine's faiss has no GPU: a stand-in GPU records the moves."""
    import faiss

    from newsdesk.index.engine import Engine

    moved: list[int] = []

    def to_gpu(resources, device, index):
        moved.append(index.ntotal)
        return index  # searched on the CPU all the same

    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: object(), raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", to_gpu, raising=False)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "ferry.txt").write_text("Harbour ferry\n\nThe harbour ferry runs every hour, "
                                                   "the council said on Monday.\n")
    monkeypatch.chdir(tmp_path)
    for value, expect_moved in (("false", False), ("true", True)):
        (tmp_path / ".env").write_text(f"NEWSDESK_CORPUS=corpus\nNEWSDESK_DATA=data\nNEWSDESK_PROGRESS=false\n"
                                       f"NEWSDESK_FAISS_GPU={value}\n")
        settings = Settings()
        moved.clear()
        engine = Engine(settings, embedder=fake_embedder)
        engine.index(progress=False)
        answer = engine.ask("how often does the ferry run?")  # a stand-in embedder: a near miss at least
        assert "ferry runs every hour" in " ".join(r.quote for r in answer.results + answer.near_misses)
        assert bool(moved) is expect_moved, value
