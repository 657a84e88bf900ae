"""Everything that crosses a workflow's boundary: the dataclasses of workflow and activity inputs and
results, workflow ids and the search attributes HQ filters on in the Temporal Web UI, one module per
domain. Pure: the only package of ours that workflows import, and the only one passed through their
sandbox. Workflow ids are named per domain (`contracts.orders.workflow_id_for`)."""

from .search import (  # noqa: F401
    DEALER_ID,
    REGION,
    ORDER_ID,
    STAGE,
    TASK_ROLE,
    POLICY_ID,
    REBATE_PROGRAM,
    SETTLEMENT_PERIOD,
    CASE_ID,
    TIERING_MONTH,
    WAYBILL,
    CREDIT_RUN_DATE,
    RUN_DATE,
    SEARCH_ATTRIBUTES,
)
from .tasks import (  # noqa: F401
    TaskSpec,
    CompleteTaskInput,
    TaskResult,
    EscalationResult,
    StepFailedInput,
    task_workflow_id,
)
from .orders import (  # noqa: F401
    OrderLineInput,
    PlaceOrderInput,
    CreditDecision,
    ReviewOutcomeInput,
    OrderResult,
    OrderStart,
    OrderSweepInput,
    OrderSweepResult,
    order_search_attributes,
)
from .policies import (  # noqa: F401
    RolloutInput,
    RolloutPlan,
    DeliverInput,
    SweepInput,
    SweepResult,
    PilotInput,
    PilotVerdict,
    AmendInput,
    AmendApplied,
    WithdrawInput,
    PolicyStatusInput,
    CloseInput,
    CloseResult,
    RolloutResult,
    EvidenceReviewInput,
    EvidenceOutcomeInput,
)
from .rebates import (  # noqa: F401
    SettlementInput,
    FreezeResult,
    ReviewInput,
    ReviewState,
    DisputeOutcomeInput,
    ApprovalInput,
    ApprovalOutcomeInput,
    PostInput,
    PostResult,
    SettlementFailedInput,
    CloseRunInput,
    RunResult,
    DueRunsInput,
)
from .diversion import (  # noqa: F401
    CaseInput,
    CaseStart,
    InvestigationInput,
    Investigation,
    CaseOutcomeInput,
    CaseResult,
    DiversionSweepInput,
    DiversionSweepResult,
    case_search_attributes,
)
from .tiering import (  # noqa: F401
    RetieringInput,
    TieringStepInput,
    ScoreResult,
    ApplyResult,
    SilentResult,
    DowngradeOutcomeInput,
    RetieringResult,
    month_of,
)
from .masterdata import (  # noqa: F401
    LimitChangeInput,
    LimitChangeOutcomeInput,
    limit_change_workflow_id,
)
from .logistics import (  # noqa: F401
    ShipmentInput,
    Tracked,
    ReceiptInput,
    ReceiptResult,
    ReportInput,
    ReportOutcomeInput,
    ShipmentResult,
    PollInput,
    PollResult,
    SignedParcel,
    ToldInput,
)
from .credit import (  # noqa: F401
    CreditScoringInput,
    CreditStepInput,
    CreditScoreResult,
    CreditApplyResult,
    CreditIncreaseInput,
    CreditApprovalInput,
    CreditApprovalOutcomeInput,
    CreditScoringResult,
)
from .governance import (  # noqa: F401
    RuleProposalInput,
    DecideProposalInput,
    ProposalSweepInput,
    ProposalSweepResult,
)
from .service import (  # noqa: F401
    ServiceRequestInput,
    ServiceCloseInput,
    ServiceClosed,
    ServiceSweepInput,
    ServiceSweepResult,
    SERVICE_SWEEP_SCHEDULE,
    service_workflow_id,
    CareDayInput,
    CareDayResult,
    CARE_SCHEDULE,
    RedemptionInput,
    RedemptionSettleInput,
    redemption_workflow_id,
)
from .inventory import (  # noqa: F401
    InventoryRunInput,
    InventoryStepInput,
    InventoryRunPlan,
    HealthResult,
    AdviceResult,
    InventoryRunResult,
    ForecastInput,
    ForecastResult,
)
