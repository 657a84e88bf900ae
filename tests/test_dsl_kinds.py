"""Each kind of rule file is one plugin, found by its `kind:` in one registry; the validator, the
schema and the test runner never name a kind."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import policies_dsl
from policies_dsl.kinds import KINDS, KindPlugin, kind

SHARED = ("validator.py", "schema.py", "testing.py", "expectations.py")


def test_every_kind_is_one_plugin_in_the_registry():
    assert list(KINDS) == ["credit_approval", "policy", "rebate", "diversion", "tiering", "allocation", "credit_score",
                           "service", "inventory"]
    for name, plugin in KINDS.items():
        assert isinstance(plugin, KindPlugin) and plugin.name == name and kind(name) is plugin
    with pytest.raises(KeyError, match="no kind of rule file is called 'pricing'"):
        kind("pricing")


def test_the_shared_modules_never_name_a_kind():
    root = Path(policies_dsl.__file__).parent
    named = re.compile("|".join(rf"[\"']{name}[\"']" for name in KINDS))
    for module in SHARED:
        assert not named.search((root / module).read_text()), module
