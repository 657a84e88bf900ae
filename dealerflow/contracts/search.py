"""The search attributes HQ filters on in the Temporal Web UI."""
from __future__ import annotations

from temporalio.common import SearchAttributeKey

DEALER_ID = SearchAttributeKey.for_keyword("DealerId")


REGION = SearchAttributeKey.for_keyword("Region")


ORDER_ID = SearchAttributeKey.for_keyword("OrderId")


STAGE = SearchAttributeKey.for_keyword("Stage")


TASK_ROLE = SearchAttributeKey.for_keyword("TaskRole")


POLICY_ID = SearchAttributeKey.for_keyword("PolicyId")


REBATE_PROGRAM = SearchAttributeKey.for_keyword("RebateProgram")


SETTLEMENT_PERIOD = SearchAttributeKey.for_keyword("SettlementPeriod")


CASE_ID = SearchAttributeKey.for_keyword("CaseId")


TIERING_MONTH = SearchAttributeKey.for_keyword("TieringMonth")


# Text, not keyword: the server allows ten keyword attributes, all taken above.
WAYBILL = SearchAttributeKey.for_text("Waybill")
# The first instant (China time) of the month a credit scoring run scores for. A datetime: the dev
# server holds at most 10 keyword attributes.
CREDIT_RUN_DATE = SearchAttributeKey.for_datetime("CreditRunDate")


SEARCH_ATTRIBUTES = (DEALER_ID, REGION, ORDER_ID, STAGE, TASK_ROLE, POLICY_ID, REBATE_PROGRAM, SETTLEMENT_PERIOD,
                     CASE_ID, TIERING_MONTH, WAYBILL, CREDIT_RUN_DATE)


RUN_DATE = SearchAttributeKey.for_datetime("RunDate")  # the business day a daily run measures

SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTES + (RUN_DATE,)
