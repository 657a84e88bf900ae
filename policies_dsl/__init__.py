"""The rule DSL: YAML rule files validated with file:line errors, `when` conditions compiled to the
durable_rules engine, and decisions that explain themselves. Each kind of rule file (credit approval,
policy, rebate, tiering, diversion, credit score) is one plugin in kinds/. Imports nothing else of dealerflow."""
from .durations import parse_duration
from .engine import CompiledRuleset, Decision, compile_rule_file, compiled_for, decide, get_compiled
from .errors import FactError, RuleError, RuleFileError
from .kinds.credit_score import CreditAssessment, CreditScoreSpec, assess_credit
from .kinds.diversion import Assessment, DiversionSpec, assess, most_severe
from .kinds.rebate import Accrual, Figures, RebateSpec, accrue
from .kinds.tiering import TierAssessment, TieringSpec, assess_tier
from .model import FactSpec, Rule, RuleFile, RuleTest
from .schema import json_schema, write_json_schema
from .testing import RuleTestResult, run_rule_tests
from .validator import load_rule_file

__all__ = [
    "Accrual", "Assessment", "CompiledRuleset", "Decision", "DiversionSpec", "FactError", "FactSpec", "Figures",
    "RebateSpec", "Rule", "RuleError", "RuleFile", "RuleFileError", "RuleTest", "RuleTestResult", "accrue", "assess",
    "TierAssessment", "TieringSpec", "assess_tier", "CreditAssessment", "CreditScoreSpec", "assess_credit",
    "compile_rule_file", "compiled_for", "decide",
    "get_compiled", "json_schema", "load_rule_file", "most_severe", "parse_duration", "run_rule_tests",
    "write_json_schema",
]
