"""Write `.env.example` from the settings classes, so every setting is documented and none is missed.

    .venv/bin/python scripts/gen_env_example.py          # rewrite .env.example
    .venv/bin/python scripts/gen_env_example.py --check  # exit 1 when it is out of date
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """\
# newsdesk settings. Copy to .env and edit; the environment overrides .env.
# Every setting is optional: the defaults index ./corpus into ./.newsdesk and, without DISCORD_TOKEN,
# `make run` starts the terminal front end. Never commit a real token.
"""


def render() -> str:
    from newsdesk.bot.discord_settings import BotSettings
    from newsdesk.index.settings import Settings

    out = [HEADER]
    for title, cls, prefix in (("Engine", Settings, "NEWSDESK_"), ("Discord bot", BotSettings, "")):
        out.append(f"\n# --- {title} " + "-" * (96 - len(title)) + "\n")
        for name, field in cls.model_fields.items():
            env = (prefix + name).upper()
            desc = field.description or ""
            default = field.get_default(call_default_factory=True)
            if isinstance(default, list):
                default = ",".join(map(str, default))
            shown = "" if default is None else str(default)
            if isinstance(default, bool):
                shown = str(default).lower()
            out.append("\n".join("# " + line for line in textwrap.wrap(desc, 100)) + "\n")
            out.append(f"# {env}={shown}\n" if env != "DISCORD_TOKEN" else f"{env}=\n")
            out.append("\n")
    return "".join(out).rstrip() + "\n"


def main() -> int:
    target = ROOT / ".env.example"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print(".env.example is out of date: run scripts/gen_env_example.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
